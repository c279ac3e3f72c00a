// The registry replicas answer an anonymous pull as the real registries do (../shared/registries.md, cited per test), asked directly, without the proxy: what the proxy is tested against is what it will meet.
import { describe, expect, inject, it } from "vitest";
import { seededDigest, seededImage } from "./clients/common.mjs";
import { fetchCounts, resetCounts } from "./fixture/control.mjs";
import { parseBearerChallenge, registryFetch, tokenFor } from "./fixture/registry-http.mjs";
import { sha256Digest } from "./fixture/skopeo.mjs";
import type { RegistryName, SeededImage } from "./fixture/stack.mjs";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

describe.skipIf(inject("e2eSkipReason"))("registry replicas, asked directly", () => {
  const stack = inject("stack");
  const image = (registry: RegistryName, repository: string) =>
    seededImage(stack.images, registry, repository);
  /** A blob of `seeded` of at least / below 1 KiB, from its (first platform's) layers. */
  const layer = (seeded: SeededImage, index = 0) => seeded.layers[index] ?? "";

  describe("Docker Hub (§1)", () => {
    const hub = () => stack.hub;
    const token = () => tokenFor(`${hub().url}/v2/`, "repository:someuser/tool:pull");

    it("issues tokens from another host with both `token` and `access_token`, expires_in and issued_at (§1 Token)", async () => {
      const { realm, service, body } = await token();
      expect(new URL(realm).host).not.toBe(hub().host);
      expect(service).toBe("registry.docker.io");
      expect(body.token).toBe(body.access_token);
      expect(body).toMatchObject({ expires_in: 300, issued_at: expect.any(String) });
    });

    it("sends ratelimit headers on manifest GET and HEAD; GET counts as a pull, HEAD does not (§1 Manifest HEAD/GET)", async () => {
      const { token: bearer } = await token();
      const url = `${hub().url}/v2/someuser/tool/manifests/1`;
      const remaining = (response: Response) =>
        Number(/^(\d+);w=21600$/.exec(response.headers.get("ratelimit-remaining") ?? "")?.[1]);
      const head1 = await registryFetch(url, { token: bearer, method: "HEAD" });
      const head2 = await registryFetch(url, { token: bearer, method: "HEAD" });
      const get = await registryFetch(url, { token: bearer });
      await get.body?.cancel();
      expect(head1.headers.get("ratelimit-limit")).toMatch(/^\d+;w=21600$/);
      expect(head1.headers.get("docker-ratelimit-source")).toBeTruthy();
      expect(remaining(head2)).toBe(remaining(head1));
      expect(remaining(get)).toBe(remaining(head1) - 1);
    });

    it("redirects blobs (307) to a CDN that refuses any Authorization with 400 (§1 The target rejects Authorization)", async () => {
      const { token: bearer } = await token();
      const blob = layer(image("hub", "someuser/tool"));
      const redirect = await registryFetch(`${hub().url}/v2/someuser/tool/blobs/${blob}`, {
        token: bearer,
      });
      expect(redirect.status).toBe(307);
      const location = redirect.headers.get("location") ?? "";
      expect(location.startsWith(stack.cdn.url)).toBe(true);
      const refused = await fetch(location, { headers: { authorization: `Bearer ${bearer}` } });
      expect(refused.status).toBe(400);
      expect(await refused.text()).toMatch(/<Code>InvalidRequest<\/Code>/);
      const served = await fetch(location);
      expect(sha256Digest(new Uint8Array(await served.arrayBuffer()))).toBe(blob);
    });

    it("pages tags/list 100 at a time with distribution's relative Link (§1 tags/list)", async () => {
      const { token: bearer } = await tokenFor(
        `${hub().url}/v2/`,
        "repository:someuser/paged:pull",
      );
      const first = await registryFetch(`${hub().url}/v2/someuser/paged/tags/list`, {
        token: bearer,
      });
      const { tags } = (await first.json()) as { tags: string[] };
      expect(tags).toHaveLength(100);
      expect(first.headers.get("link")).toBe(
        `</v2/someuser/paged/tags/list?last=${tags[99]}&n=100>; rel="next"`,
      );
    });
  });

  describe("ghcr.io (§6)", () => {
    const ghcr = () => stack.ghcr;

    it("pings 401 with its own realm and the placeholder scope, which it refuses (§6 Ping/401, Token)", async () => {
      const ping = await fetch(`${ghcr().url}/v2/`);
      expect(ping.status).toBe(401);
      expect(await ping.json()).toEqual({
        errors: [{ code: "UNAUTHORIZED", message: "authentication required" }],
      });
      const challenge = parseBearerChallenge(ping.headers.get("www-authenticate") ?? "");
      expect(challenge).toEqual({
        realm: `${ghcr().url}/token`,
        service: "ghcr.io",
        scope: "repository:user/image:pull",
      });
      const placeholder = await fetch(
        `${challenge.realm}?service=ghcr.io&scope=${challenge.scope}`,
      );
      expect(placeholder.status).toBe(401);
    });

    it('issues `{"token"}` without expires_in (§6 Token)', async () => {
      const { body } = await tokenFor(`${ghcr().url}/v2/`, "repository:org/tool:pull");
      expect(Object.keys(body)).toEqual(["token"]);
    });

    it("serves public content to `Bearer QQ==` (§6 Quirk)", async () => {
      const response = await registryFetch(`${ghcr().url}/v2/org/tool/manifests/v1`, {
        token: "QQ==",
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("docker-content-digest")).toBe(
        seededDigest(stack.images, "ghcr", "org/tool:v1"),
      );
    });

    it("answers an index 404 MANIFEST_UNKNOWN when Accept lacks the OCI index type (§6 Manifests: strict Accept)", async () => {
      const { token } = await tokenFor(`${ghcr().url}/v2/`, "repository:org/multi:pull");
      const url = `${ghcr().url}/v2/org/multi/manifests/1`;
      const refused = await registryFetch(url, {
        token,
        accept:
          "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
      });
      expect(refused.status).toBe(404);
      expect(await refused.json()).toMatchObject({
        errors: [
          {
            code: "MANIFEST_UNKNOWN",
            message: "OCI index found, but accept header does not support OCI indexes",
          },
        ],
      });
      const served = await registryFetch(url, { token, accept: OCI_INDEX });
      expect(served.status).toBe(200);
      await served.body?.cancel();
    });

    it("redirects blobs (307) to an Azure-SAS-signed URL that refuses a tampered signature (§6 Blob)", async () => {
      const { token } = await tokenFor(`${ghcr().url}/v2/`, "repository:org/tool:pull");
      const blob = layer(image("ghcr", "org/tool"));
      const redirect = await registryFetch(`${ghcr().url}/v2/org/tool/blobs/${blob}`, { token });
      expect(redirect.status).toBe(307);
      const location = new URL(redirect.headers.get("location") ?? "");
      expect(location.pathname).toBe(`/ghcr1/blobs/${blob}`);
      expect([...location.searchParams.keys()]).toEqual(["se", "sig", "sp", "spr", "sr", "sv"]);
      const served = await fetch(location);
      expect(sha256Digest(new Uint8Array(await served.arrayBuffer()))).toBe(blob);
      location.searchParams.set("sig", "forged");
      expect((await fetch(location)).status).toBe(403);
    });
  });

  describe("registry.k8s.io (§5)", () => {
    const k8s = () => stack.k8s;
    const pause = () => image("k8s", "pause");

    it("pings 200 without auth; answers only GET and HEAD; has no _catalog (§5 GET /v2/, Other routes)", async () => {
      const ping = await fetch(`${k8s().url}/v2/`);
      expect(ping.status).toBe(200);
      expect(ping.headers.get("www-authenticate")).toBeNull();
      expect(
        (await fetch(`${k8s().url}/v2/pause/manifests/3.10`, { method: "DELETE" })).status,
      ).toBe(405);
      expect((await fetch(`${k8s().url}/v2/_catalog`)).status).toBe(404);
    });

    it("redirects manifests (307) to Artifact Registry below k8s-artifacts-prod/images, dropping the query (§5 Other routes)", async () => {
      const manifest = await registryFetch(`${k8s().url}/v2/pause/manifests/3.10`);
      expect(manifest.status).toBe(307);
      expect(manifest.headers.get("location")).toBe(
        `${k8s().artifactRegistryUrl}/v2/k8s-artifacts-prod/images/pause/manifests/3.10`,
      );
      const tags = await registryFetch(`${k8s().url}/v2/pause/tags/list?n=1&last=3.0`);
      expect(tags.headers.get("location")).toBe(
        `${k8s().artifactRegistryUrl}/v2/k8s-artifacts-prod/images/pause/tags/list`,
      );
      const followed = await registryFetch(manifest.headers.get("location") ?? "", {
        accept: OCI_INDEX,
      });
      expect(followed.status).toBe(200);
      expect(sha256Digest(new Uint8Array(await followed.arrayBuffer()))).toBe(pause().digest);
    });

    it("challenges on Artifact Registry's /v2/ with a realm and no service (§5 AR)", async () => {
      const ping = await fetch(`${k8s().artifactRegistryUrl}/v2/`);
      expect(ping.status).toBe(401);
      expect(parseBearerChallenge(ping.headers.get("www-authenticate") ?? "")).toEqual({
        realm: `${k8s().artifactRegistryUrl}/v2/token`,
      });
    });

    it("sends a big blob to the S3 bucket, which refuses Authorization (§5 Blobs)", async () => {
      const blob = layer(pause()); // 64 KiB
      const redirect = await registryFetch(`${k8s().url}/v2/pause/blobs/${blob}`);
      expect(redirect.status).toBe(307);
      const location = redirect.headers.get("location") ?? "";
      expect(new URL(location).pathname).toBe(`/containers/images/${blob}`);
      const refused = await fetch(location, { headers: { authorization: "Bearer anything" } });
      expect(refused.status).toBe(400);
      expect(await refused.text()).toMatch(/Unsupported Authorization Type/);
      const served = await fetch(location);
      expect(sha256Digest(new Uint8Array(await served.arrayBuffer()))).toBe(blob);
    });

    it("sends a small blob to Artifact Registry, which answers 302 with a relative /artifacts-downloads/ Location that needs no Authorization (§5 AR blob GET)", async () => {
      const blob = layer(pause(), 1); // 200 bytes of data: not in the bucket
      const first = await registryFetch(`${k8s().url}/v2/pause/blobs/${blob}`);
      expect(first.status).toBe(307);
      const ar = first.headers.get("location") ?? "";
      expect(
        ar.startsWith(`${k8s().artifactRegistryUrl}/v2/k8s-artifacts-prod/images/pause/blobs/`),
      ).toBe(true);
      const second = await registryFetch(ar);
      expect(second.status).toBe(302);
      const relative = second.headers.get("location") ?? "";
      expect(relative).toMatch(
        /^\/artifacts-downloads\/namespaces\/k8s-artifacts-prod\/repositories\/images\/downloads\/[\w.-]{900,}$/,
      );
      const served = await fetch(new URL(relative, ar));
      expect(served.status).toBe(200);
      expect(sha256Digest(new Uint8Array(await served.arrayBuffer()))).toBe(blob);
    });
  });

  describe("quay.io (§2)", () => {
    const quay = () => stack.quay;

    it("pings 401 with the body `true` as text/html (§2 Ping)", async () => {
      const ping = await fetch(`${quay().url}/v2/`);
      expect(ping.status).toBe(401);
      expect(ping.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(await ping.text()).toBe("true");
      expect(parseBearerChallenge(ping.headers.get("www-authenticate") ?? "")).toEqual({
        realm: `${quay().url}/v2/auth`,
        service: "quay.io",
      });
    });

    it('issues `{"token"}` only (§2 Token)', async () => {
      const { body } = await tokenFor(`${quay().url}/v2/`, "repository:org/app:pull");
      expect(Object.keys(body)).toEqual(["token"]);
    });

    it("serves public repositories without any token (§2 Public repos need no token at all)", async () => {
      const response = await registryFetch(`${quay().url}/v2/org/app/manifests/1`);
      expect(response.status).toBe(200);
      expect(response.headers.get("docker-content-digest")).toBe(
        seededDigest(stack.images, "quay", "org/app:1"),
      );
    });

    it("answers a missing repository 401, not 404 (§2 Missing or private repo)", async () => {
      const response = await registryFetch(`${quay().url}/v2/org/missing/manifests/1`);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({
        errors: [
          {
            code: "UNAUTHORIZED",
            message: "access to the requested resource is not authorized",
            detail: {},
          },
        ],
      });
      expect(response.headers.get("www-authenticate")).toMatch(
        /scope="repository:org\/missing:pull"/,
      );
    });

    it("redirects blob GET (302) to a signed CDN URL that refuses a forged one, and answers blob HEAD 200 (§2 Blob GET)", async () => {
      const blob = layer(image("quay", "org/app"));
      const head = await registryFetch(`${quay().url}/v2/org/app/blobs/${blob}`, {
        method: "HEAD",
      });
      expect(head.status).toBe(200);
      expect(head.headers.get("docker-content-digest")).toBe(blob);
      const redirect = await registryFetch(`${quay().url}/v2/org/app/blobs/${blob}`);
      expect(redirect.status).toBe(302);
      const location = new URL(redirect.headers.get("location") ?? "");
      expect([...location.searchParams.keys()]).toEqual(["Expires", "Signature", "Key-Pair-Id"]);
      const served = await fetch(location);
      expect(sha256Digest(new Uint8Array(await served.arrayBuffer()))).toBe(blob);
      location.searchParams.set(
        "Expires",
        String(Number(location.searchParams.get("Expires")) + 3600),
      );
      expect((await fetch(location)).status).toBe(403);
    });

    it("pages tags/list at most 100 a time with an absolute Link (§2 tags/list)", async () => {
      const url = `${quay().url}/v2/org/app/tags/list`;
      const first = await registryFetch(`${url}?n=500`);
      const { tags } = (await first.json()) as { tags: string[] };
      expect(tags).toHaveLength(100);
      expect(first.headers.get("link")).toBe(`<${url}?n=100&last=${tags[99]}>; rel="next"`);
    });
  });

  describe("public.ecr.aws (§7)", () => {
    const ecr = () => stack.ecr;
    const nginx = () => image("ecr", "nginx/nginx");

    it('challenges with scope="aws" and issues `{"token"}` for it (§7 Ping/401, Token)', async () => {
      const ping = await fetch(`${ecr().url}/v2/`);
      expect(ping.status).toBe(401);
      expect(parseBearerChallenge(ping.headers.get("www-authenticate") ?? "")).toEqual({
        realm: `${ecr().url}/token/`,
        service: "public.ecr.aws",
        scope: "aws",
      });
      const { body } = await tokenFor(`${ecr().url}/v2/`, "aws");
      expect(Object.keys(body)).toEqual(["token"]);
    });

    it("answers Basic credentials 400 DENIED, not 401 (§7 Token)", async () => {
      const basic = { authorization: `Basic ${Buffer.from("user:pass").toString("base64")}` };
      for (const url of [
        `${ecr().url}/v2/nginx/nginx/manifests/1`,
        `${ecr().url}/token/?service=public.ecr.aws&scope=aws`,
      ]) {
        const response = await fetch(url, { headers: basic });
        expect(response.status, url).toBe(400);
        expect(await response.json()).toEqual({
          errors: [{ code: "DENIED", message: "Your Authorization Token is invalid." }],
        });
      }
    });

    it("answers blob HEAD 401 even with a valid token while GET redirects (307) to a CDN that honours Range (§7 HEAD, Blob GET)", async () => {
      const { token } = await tokenFor(`${ecr().url}/v2/`, "repository:nginx/nginx:pull");
      const blob = layer(nginx());
      const url = `${ecr().url}/v2/nginx/nginx/blobs/${blob}`;
      expect((await registryFetch(url, { token, method: "HEAD" })).status).toBe(401);
      const redirect = await registryFetch(url, { token });
      expect(redirect.status).toBe(307);
      const ranged = await fetch(redirect.headers.get("location") ?? "", {
        headers: { range: "bytes=0-0" },
      });
      expect(ranged.status).toBe(206);
      expect(ranged.headers.get("content-range")).toMatch(/^bytes 0-0\/\d+$/);
      await ranged.body?.cancel();
    });
  });

  it("counts what each replica received", async () => {
    await resetCounts(stack.controlUrl);
    await fetch(`${stack.quay.url}/v2/`);
    const counts = await fetchCounts(stack.controlUrl);
    expect(counts.quay.ping).toBe(1);
    expect(counts.hub.total + counts.ghcr.total + counts.k8s.total + counts.ecr.total).toBe(0);
  });
});
