// Pulls through the proxy from each registry replica (Docker Hub, ghcr.io, registry.k8s.io, quay.io, public.ecr.aws) with skopeo, and checks what each one's quirks ask of the proxy.
import { join } from "node:path";
import { seededImage } from "./clients/common.mjs";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fetchCounts, resetCounts } from "./fixture/control.mjs";
import { registryFetch, tokenFor } from "./fixture/registry-http.mjs";
import {
  makeSkopeoHome,
  pullToDir,
  readPulledImage,
  sha256Digest,
  type PulledImage,
  type SkopeoHome,
} from "./fixture/skopeo.mjs";
import type { RegistryName } from "./fixture/stack.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

describe.skipIf(inject("e2eSkipReason"))(
  "pulls through the proxy from each registry replica",
  () => {
    const stack = inject("stack");
    let temp: TempDir;
    let home: SkopeoHome;
    let pulls = 0;

    beforeAll(async () => {
      temp = makeTempDir("cf-registry-proxy-registries-");
      home = await makeSkopeoHome(join(temp.path, "home"));
    });
    afterAll(() => temp?.remove());

    const image = (registry: RegistryName, repository: string) =>
      seededImage(stack.images, registry, repository);

    /** `skopeo copy --all docker://<reference> dir:…`; a failed copy fails the test with skopeo's stderr. */
    async function pull(reference: string): Promise<PulledImage> {
      const dir = join(temp.path, `pull-${++pulls}`);
      const result = await pullToDir(home, reference, dir, { all: true });
      expect(result.code, `skopeo copy docker://${reference} failed:\n${result.stderr}`).toBe(0);
      return readPulledImage(dir);
    }

    /** The proxy token for a repository it serves under `name` (prefix included). */
    const proxyToken = async (name: string) =>
      (await tokenFor(`${stack.proxy.url}/v2/`, `repository:${name}:pull`)).token;

    // Each replica by the registry's name as a path prefix, as `docker pull <proxy>/quay.io/…` does.
    const cases: [string, RegistryName, string, () => string][] = [
      ["Docker Hub", "hub", "someuser/tool", () => `${stack.hub.host}/someuser/tool:1`],
      ["ghcr.io", "ghcr", "org/multi", () => `${stack.ghcr.host}/org/multi:1`],
      ["registry.k8s.io", "k8s", "pause", () => `${stack.k8s.host}/pause:3.10`],
      ["quay.io", "quay", "org/app", () => `${stack.quay.host}/org/app:1`],
      ["public.ecr.aws", "ecr", "nginx/nginx", () => `${stack.ecr.host}/nginx/nginx:1`],
    ];
    const prefixes: Record<RegistryName, string> = {
      hub: "docker.io",
      ghcr: "ghcr.io",
      k8s: "registry.k8s.io",
      quay: "quay.io",
      ecr: "public.ecr.aws",
    };

    it.each(cases)(
      "skopeo pulls from %s through the proxy what it pulls from the replica itself, with the seeded digest",
      async (_, registry, repository, direct) => {
        const seeded = image(registry, repository);
        const fromReplica = await pull(direct());
        const proxied = await pull(
          `${stack.proxy.host}/${prefixes[registry]}/${repository}:${seeded.tag}`,
        );
        expect(fromReplica.digest).toBe(seeded.digest);
        expect(proxied.digest).toBe(seeded.digest);
        expect(proxied.files).toEqual(fromReplica.files);
      },
    );

    describe("Docker Hub", () => {
      it("passes the rate-limit headers of a manifest GET that reached Docker Hub to the client", async () => {
        // A tag nobody fetches through the proxy: the GET goes upstream (a cached one would not).
        const token = await proxyToken("someuser/paged");
        const response = await registryFetch(
          `${stack.proxy.url}/v2/someuser/paged/manifests/t042`,
          {
            token,
          },
        );
        await response.body?.cancel();
        expect(response.status).toBe(200);
        expect(response.headers.get("ratelimit-limit")).toMatch(/^\d+;w=21600$/);
        expect(response.headers.get("ratelimit-remaining")).toMatch(/^\d+;w=21600$/);
      });

      it("never sends Authorization to the CDN (which would answer 400)", async () => {
        await resetCounts(stack.controlUrl);
        // No other test fetches this blob: it must come from the CDN, not the proxy's cache.
        const seeded = image("hub", "someuser/cdn");
        const token = await proxyToken("someuser/cdn");
        const blob = seeded.layers[0] ?? "";
        const response = await registryFetch(`${stack.proxy.url}/v2/someuser/cdn/blobs/${blob}`, {
          token,
        });
        expect(response.status).toBe(200);
        expect(sha256Digest(new Uint8Array(await response.arrayBuffer()))).toBe(blob);
        const counts = await fetchCounts(stack.controlUrl);
        expect(counts.cdn.get).toBe(1);
        expect(counts.cdn.refused).toBe(0);
      });
    });

    describe("ghcr.io", () => {
      it("passes ghcr's 404 MANIFEST_UNKNOWN for an index asked without the OCI index type", async () => {
        const token = await proxyToken("ghcr.io/org/multi");
        const response = await registryFetch(
          `${stack.proxy.url}/v2/ghcr.io/org/multi/manifests/1`,
          {
            token,
            accept: "application/vnd.docker.distribution.manifest.v2+json",
          },
        );
        expect(response.status).toBe(404);
        expect(await response.json()).toMatchObject({ errors: [{ code: "MANIFEST_UNKNOWN" }] });
      });
    });

    describe("registry.k8s.io", () => {
      it("keeps the client's Accept on the redirect to Artifact Registry: the index arrives", async () => {
        const seeded = image("k8s", "pause");
        const token = await proxyToken("registry.k8s.io/pause");
        const response = await registryFetch(
          `${stack.proxy.url}/v2/registry.k8s.io/pause/manifests/3.10`,
          {
            token,
            accept: OCI_INDEX,
          },
        );
        const body = new Uint8Array(await response.arrayBuffer());
        expect(response.status, new TextDecoder().decode(body)).toBe(200);
        expect(sha256Digest(body)).toBe(seeded.digest);
      });

      it("serves blobs from the S3 bucket (no Authorization) and from Artifact Registry's relative 302", async () => {
        await resetCounts(stack.controlUrl);
        // No other test fetches kube-proxy: both blobs come from upstream, one layer (64 KiB) from
        // the bucket, one (a few hundred bytes) from Artifact Registry.
        const seeded = image("k8s", "kube-proxy");
        const token = await proxyToken("registry.k8s.io/kube-proxy");
        for (const blob of seeded.layers) {
          const response = await registryFetch(
            `${stack.proxy.url}/v2/registry.k8s.io/kube-proxy/blobs/${blob}`,
            { token },
          );
          expect(response.status, blob).toBe(200);
          expect(sha256Digest(new Uint8Array(await response.arrayBuffer()))).toBe(blob);
        }
        const counts = await fetchCounts(stack.controlUrl);
        expect(counts.k8sBucket).toMatchObject({ get: 1, refused: 0 });
        expect(counts.k8sArtifactRegistry.blobGet).toBe(1);
        // The download behind the relative Location.
        expect(counts.k8sArtifactRegistry.other).toBe(1);
      });
    });

    describe("quay.io", () => {
      it("answers a missing repository with an OCI 401, as quay does, never a 5xx", async () => {
        const token = await proxyToken("quay.io/org/missing");
        const response = await registryFetch(
          `${stack.proxy.url}/v2/quay.io/org/missing/manifests/1`,
          {
            token,
          },
        );
        expect(response.status).toBe(401);
        expect(await response.json()).toMatchObject({ errors: [{ code: "UNAUTHORIZED" }] });
      });
    });

    describe("public.ecr.aws", () => {
      it("answers a blob HEAD 200 with its size and digest, though ECR refuses blob HEAD (401)", async () => {
        // No other test touches nginx/head: the proxy has nothing of it cached.
        const blob = image("ecr", "nginx/head").layers[0] ?? "";
        const token = await proxyToken("public.ecr.aws/nginx/head");
        const response = await registryFetch(
          `${stack.proxy.url}/v2/public.ecr.aws/nginx/head/blobs/${blob}`,
          {
            token,
            method: "HEAD",
          },
        );
        expect(response.status).toBe(200);
        expect(response.headers.get("docker-content-digest")).toBe(blob);
        expect(Number(response.headers.get("content-length"))).toBeGreaterThan(0);
      });

      it("answers a Range request with 206 and the right bytes", async () => {
        const blob = image("ecr", "nginx/nginx").layers[0] ?? "";
        const token = await proxyToken("public.ecr.aws/nginx/nginx");
        const url = `${stack.proxy.url}/v2/public.ecr.aws/nginx/nginx/blobs/${blob}`;
        const whole = new Uint8Array(await (await registryFetch(url, { token })).arrayBuffer());
        const ranged = await registryFetch(url, { token, range: "bytes=1000-" });
        expect(ranged.status).toBe(206);
        expect(ranged.headers.get("content-range")).toBe(
          `bytes 1000-${whole.length - 1}/${whole.length}`,
        );
        expect(Buffer.from(await ranged.arrayBuffer())).toEqual(Buffer.from(whole.subarray(1000)));
      });
    });
  },
);
