// The flows real users hit, each with a real client through the proxy: inspecting an index, pulling by digest, listing tags over several pages, cosign signature tags, the referrers API, resuming a download, and a Helm chart stored as an OCI artifact.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { missingClientReason, seededImage } from "./clients/common.mjs";
import { DOCKER_APT, DOCKER_BINARIES, dockerManifestInspect } from "./clients/docker.mjs";
import {
  COSIGN_SIGNATURE_ANNOTATION,
  COSIGN_SIMPLESIGNING,
  HELM_CHART,
  HELM_CONFIG,
  SBOM_ARTIFACT_TYPE,
} from "./fixture/artifacts.mjs";
import { run } from "./fixture/processes.mjs";
import { registryFetch, tokenFor } from "./fixture/registry-http.mjs";
import {
  inspectImage,
  listTags,
  makeSkopeoHome,
  manifestDigest,
  pullToDir,
  pullToOciLayout,
  readPulledImage,
  sha256Digest,
  type SkopeoHome,
} from "./fixture/skopeo.mjs";
import type { RegistryName } from "./fixture/stack.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

const missingDocker = missingClientReason("docker", DOCKER_BINARIES, DOCKER_APT);

describe.skipIf(inject("e2eSkipReason"))("flows real users hit, through the proxy", () => {
  const stack = inject("stack");
  let temp: TempDir;
  let home: SkopeoHome;

  beforeAll(async () => {
    temp = makeTempDir("cf-registry-proxy-flows-");
    home = await makeSkopeoHome(join(temp.path, "home"));
  });
  afterAll(() => temp?.remove());

  const image = (registry: RegistryName, repository: string, tag?: string) =>
    seededImage(stack.images, registry, repository, tag);
  const proxyToken = async (name: string) =>
    (await tokenFor(`${stack.proxy.url}/v2/`, `repository:${name}:pull`)).token;

  describe("inspecting an index", () => {
    it("answers HEAD like GET: same digest, type and length, no body", async () => {
      const seeded = image("hub", "library/multi");
      const token = await proxyToken("library/multi");
      const url = `${stack.proxy.url}/v2/library/multi/manifests/1`;
      const head = await registryFetch(url, { token, method: "HEAD" });
      const get = await registryFetch(url, { token });
      const body = new Uint8Array(await get.arrayBuffer());
      expect([head.status, get.status]).toEqual([200, 200]);
      expect(sha256Digest(body)).toBe(seeded.digest);
      for (const response of [head, get]) {
        expect(response.headers.get("docker-content-digest")).toBe(seeded.digest);
        expect(response.headers.get("content-type")).toBe(
          "application/vnd.oci.image.index.v1+json",
        );
      }
      expect(Number(head.headers.get("content-length"))).toBe(body.length);
    });

    it("`skopeo inspect` reads the index and this platform's image", async () => {
      const seeded = image("hub", "library/multi");
      expect(await manifestDigest(home, `${stack.proxy.host}/library/multi:1`)).toBe(seeded.digest);
      const inspected = await inspectImage(home, `${stack.proxy.host}/library/multi:1`);
      expect(inspected.Digest).toBe(seeded.digest);
      expect(inspected).toMatchObject({ Os: "linux", Architecture: "amd64" });
      expect(inspected.Layers).toEqual([seeded.layers[0]]);
    });

    it.skipIf(missingDocker && !process.env.CI)(
      "`docker manifest inspect` lists the index's manifests",
      async () => {
        if (missingDocker) throw new Error(missingDocker);
        const token = await proxyToken("library/multi");
        const raw = (await (
          await registryFetch(`${stack.proxy.url}/v2/library/multi/manifests/1`, { token })
        ).json()) as { manifests: { digest: string }[] };
        const printed = (await dockerManifestInspect(`${stack.proxy.host}/library/multi:1`, {
          configDir: join(temp.path, "docker-cli"),
        })) as {
          mediaType: string;
          manifests: { digest: string; platform: { architecture: string } }[];
        };
        expect(printed.mediaType).toBe("application/vnd.oci.image.index.v1+json");
        expect(printed.manifests.map((m) => m.digest)).toEqual(raw.manifests.map((m) => m.digest));
        expect(printed.manifests.map((m) => m.platform.architecture)).toEqual(["amd64", "arm64"]);
      },
    );
  });

  it("pulls by digest with skopeo (`<proxy>/someuser/tool@sha256:…`)", async () => {
    const seeded = image("hub", "someuser/tool", "1");
    const dir = join(temp.path, "by-digest");
    const result = await pullToDir(home, `${stack.proxy.host}/someuser/tool@${seeded.digest}`, dir);
    expect(result.code, result.stderr).toBe(0);
    expect((await readPulledImage(dir)).digest).toBe(seeded.digest);
  });

  describe("tags/list over several pages", () => {
    /**
     * Follows `Link` from page to page through the proxy; every Link must point at the proxy's
     * own path for the name the client used (prefix and ns kept).
     */
    async function walk(firstPath: string, clientName: string, token: string) {
      const tags: string[] = [];
      const links: string[] = [];
      let next: string | undefined = firstPath;
      while (next && links.length < 20) {
        const response = await registryFetch(new URL(next, stack.proxy.url).href, { token });
        expect(response.status, next).toBe(200);
        tags.push(...((await response.json()) as { tags: string[] }).tags);
        const link = response.headers.get("link");
        if (!link) break;
        links.push(link);
        const target = /^<([^>]+)>; rel="next"$/.exec(link)?.[1];
        expect(target, link).toMatch(new RegExp(`^/v2/${clientName}/tags/list\\?`));
        next = target;
      }
      return { tags, links };
    }
    const expected = (registry: RegistryName, repository: string) => {
      const seeded = image(registry, repository);
      return [seeded.tag, ...seeded.extraTags].sort();
    };

    it.each([
      ["Docker Hub, default route (relative Link)", "hub", "someuser/paged", "someuser/paged", ""],
      ["Docker Hub, path prefix", "hub", "someuser/paged", "docker.io/someuser/paged", ""],
      ["Docker Hub, ns=docker.io", "hub", "someuser/paged", "someuser/paged", "&ns=docker.io"],
      ["quay.io, path prefix (absolute Link)", "quay", "org/app", "quay.io/org/app", ""],
    ] as const)(
      "%s: every Link points at the proxy",
      async (_, registry, repository, clientName, ns) => {
        const token = (
          await tokenFor(
            `${stack.proxy.url}/v2/${ns ? `?${ns.slice(1)}` : ""}`,
            `repository:${clientName}:pull`,
          )
        ).token;
        const { tags, links } = await walk(
          `/v2/${clientName}/tags/list?n=50${ns}`,
          clientName,
          token,
        );
        expect(links).toHaveLength(2);
        if (ns) for (const link of links) expect(link).toContain(ns.slice(1));
        expect(tags.sort()).toEqual(expected(registry, repository));
      },
    );

    it.each([
      ["Docker Hub", "hub", "someuser/paged", "docker.io/someuser/paged"],
      ["quay.io", "quay", "org/app", "quay.io/org/app"],
    ] as const)(
      "`skopeo list-tags` follows the Links of %s through the proxy",
      async (_, registry, repository, clientName) => {
        const tags = await listTags(home, `${stack.proxy.host}/${clientName}`);
        expect(tags.sort()).toEqual(expected(registry, repository));
      },
    );
  });

  describe("signatures", () => {
    it("pulls a cosign signature by its `sha256-<hex>.sig` tag", async () => {
      const signed = image("hub", "someuser/tool", "1");
      const signature = image("hub", "someuser/tool", `${signed.digest.replace(":", "-")}.sig`);
      const dir = join(temp.path, "signature");
      const result = await pullToDir(
        home,
        `${stack.proxy.host}/someuser/tool:${signature.tag}`,
        dir,
      );
      expect(result.code, result.stderr).toBe(0);
      const pulled = await readPulledImage(dir);
      expect(pulled.digest).toBe(signature.digest);
      const layer = (pulled.manifest.layers ?? [])[0] as {
        digest: string;
        mediaType?: string;
        annotations?: Record<string, string>;
      };
      expect(layer.mediaType).toBe(COSIGN_SIMPLESIGNING);
      expect(layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION]).toBeTruthy();
      const payload = JSON.parse(await readFile(join(dir, layer.digest.slice(7)), "utf8"));
      expect(payload.critical.image["docker-manifest-digest"]).toBe(signed.digest);
    });

    it("passes the referrers API through where the upstream has it: the SBOM of an image, filtered by artifactType", async () => {
      const subject = image("quay", "org/signed", "1");
      const sbom = image("quay", "org/signed", "sbom");
      const path = (name: string, query = "") => `/v2/${name}/referrers/${subject.digest}${query}`;
      const token = await proxyToken("quay.io/org/signed");
      const ask = async (query = "") => {
        const [direct, proxied] = await Promise.all([
          registryFetch(`${stack.quay.url}${path("org/signed", query)}`),
          registryFetch(`${stack.proxy.url}${path("quay.io/org/signed", query)}`, { token }),
        ]);
        expect(proxied.status).toBe(200);
        expect(proxied.headers.get("content-type")).toBe("application/vnd.oci.image.index.v1+json");
        expect(proxied.headers.get("oci-filters-applied")).toBe(
          direct.headers.get("oci-filters-applied"),
        );
        const body = (await proxied.json()) as {
          manifests: { digest: string; artifactType: string }[];
        };
        expect(body).toEqual(await direct.json());
        return { body, filters: proxied.headers.get("oci-filters-applied") };
      };

      const all = await ask();
      expect(all.body.manifests).toEqual([
        expect.objectContaining({ digest: sbom.digest, artifactType: SBOM_ARTIFACT_TYPE }),
      ]);
      const filtered = await ask(`?artifactType=${encodeURIComponent(SBOM_ARTIFACT_TYPE)}`);
      expect(filtered.filters).toBe("artifactType");
      expect(filtered.body.manifests.map((m) => m.digest)).toEqual([sbom.digest]);
      const none = await ask("?artifactType=application%2Fvnd.example.none");
      expect(none.body.manifests).toEqual([]);
    });

    it("answers the referrers API as the upstream does where it has none (distribution 2.8: 404)", async () => {
      const signed = image("hub", "someuser/tool", "1");
      const path = `/v2/someuser/tool/referrers/${signed.digest}`;
      const upstreamToken = (
        await tokenFor(`${stack.hub.url}/v2/`, "repository:someuser/tool:pull")
      ).token;
      const upstream = await registryFetch(`${stack.hub.url}${path}`, { token: upstreamToken });
      const proxied = await registryFetch(`${stack.proxy.url}${path}`, {
        token: await proxyToken("someuser/tool"),
      });
      await upstream.body?.cancel();
      expect(upstream.status).toBe(404);
      expect(proxied.status).toBe(upstream.status);
      expect(await proxied.json()).toMatchObject({
        errors: [{ code: expect.stringMatching(/^[A-Z_]+$/) }],
      });
    });
  });

  it("resumes an interrupted blob download with `Range: bytes=N-` (206, the right bytes), and stores no cut-short copy", async () => {
    // No other test touches someuser/resume: the first bytes come through the proxy cold, from
    // Docker Hub's CDN.
    const blob = image("hub", "someuser/resume").layers[0] ?? "";
    const token = await proxyToken("someuser/resume");
    const url = `${stack.proxy.url}/v2/someuser/resume/blobs/${blob}`;

    const interrupted = await registryFetch(url, { token });
    expect(interrupted.status).toBe(200);
    const size = Number(interrupted.headers.get("content-length"));
    const reader = interrupted.body!.getReader();
    const head: Uint8Array[] = [];
    let received = 0;
    while (received < 256 * 1024) {
      const { value, done } = await reader.read();
      if (done) break;
      head.push(value);
      received += value.length;
    }
    await reader.cancel();
    expect(received).toBeLessThan(size);

    const resumed = await registryFetch(url, { token, range: `bytes=${received}-` });
    expect(resumed.status).toBe(206);
    expect(resumed.headers.get("content-range")).toBe(`bytes ${received}-${size - 1}/${size}`);
    const rest = new Uint8Array(await resumed.arrayBuffer());
    expect(sha256Digest(Buffer.concat([...head, rest]))).toBe(blob);

    const whole = await registryFetch(url, { token });
    expect(sha256Digest(new Uint8Array(await whole.arrayBuffer()))).toBe(blob);
  });

  it("pulls a Helm chart stored as an OCI artifact into an OCI layout (skopeo; Debian 12 packages neither helm nor oras)", async () => {
    const chart = image("hub", "charts/mychart");
    const dir = join(temp.path, "chart");
    const result = await pullToOciLayout(
      home,
      `${stack.proxy.host}/charts/mychart:0.1.0`,
      dir,
      "0.1.0",
    );
    expect(result.code, result.stderr).toBe(0);
    const blob = (digest: string) => join(dir, "blobs", "sha256", digest.slice(7));
    const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
    expect(index.manifests[0].digest).toBe(chart.digest);
    const manifestBytes = await readFile(blob(chart.digest));
    expect(sha256Digest(manifestBytes)).toBe(chart.digest);
    const manifest = JSON.parse(manifestBytes.toString("utf8"));
    expect(manifest.config.mediaType).toBe(HELM_CONFIG);
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([HELM_CHART]);
    expect(JSON.parse(await readFile(blob(manifest.config.digest), "utf8"))).toMatchObject({
      name: "mychart",
      version: "0.1.0",
    });
    const layer = blob(manifest.layers[0].digest);
    expect(sha256Digest(await readFile(layer))).toBe(chart.layers[0]);
    const listing = await run("tar", ["-tzf", layer]);
    expect(listing.stdout.split("\n")).toContain("mychart/Chart.yaml");
  });
});
