// Pulls the seeded images through the proxy with skopeo and checks each against a direct pull from its upstream registry.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fetchCounts, resetCounts } from "./fixture/control.mjs";
import {
  dockerHubMirrorConf,
  makeSkopeoHome,
  manifestDigest,
  pullToDir,
  readPulledImage,
  sha256Digest,
  type PulledImage,
  type SkopeoHome,
} from "./fixture/skopeo.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";
import { MANIFEST_ACCEPT } from "./fixture/images.mjs";
import { tokenFor } from "./fixture/registry-http.mjs";

describe.skipIf(inject("e2eSkipReason"))("skopeo through the proxy", () => {
  const stack = inject("stack");
  let temp: TempDir;
  let home: SkopeoHome;
  let pulls = 0;

  beforeAll(async () => {
    temp = makeTempDir("cf-registry-proxy-skopeo-");
    home = await makeSkopeoHome(join(temp.path, "home"));
  });
  afterAll(() => temp?.remove());

  /** Pulls docker://<reference> into a fresh `dir:` layout; a failed copy fails the test with skopeo's stderr. */
  async function pull(
    reference: string,
    options: { creds?: string; all?: boolean; registriesConf?: string } = {},
  ): Promise<PulledImage & { dir: string }> {
    const dir = join(temp.path, `pull-${++pulls}`);
    const result = await pullToDir(home, reference, dir, options);
    expect(result.code, `skopeo copy docker://${reference} failed:\n${result.stderr}`).toBe(0);
    return { ...(await readPulledImage(dir)), dir };
  }

  it("pulls an official image by its short name (the proxy completes library/)", async () => {
    const direct = await pull(`${stack.hub.host}/library/alpine:3`);
    const proxied = await pull(`${stack.proxy.host}/alpine:3`);
    expectSameImage(proxied, direct);
  });

  it("pulls a user-namespace image, following the registry's blob redirect to the CDN", async () => {
    const direct = await pull(`${stack.hub.host}/someuser/redirected:1`);
    await resetCounts(stack.controlUrl);
    const proxied = await pull(`${stack.proxy.host}/someuser/redirected:1`);
    const counts = await fetchCounts(stack.controlUrl);
    expectSameImage(proxied, direct);
    // No other test pulls this image, so the proxy had to ask the registry, which answers 307,
    // and the bytes had to come from the CDN.
    expect(counts.hub.blobGet).toBeGreaterThan(0);
    expect(counts.cdn.get).toBeGreaterThan(0);

    // And the proxy follows the 307 itself instead of handing it to the client.
    const layer = proxied.manifest.layers?.[0]?.digest ?? "";
    const { token } = await tokenFor(
      `${stack.proxy.url}/v2/`,
      "repository:someuser/redirected:pull",
    );
    const blob = await fetch(`${stack.proxy.url}/v2/someuser/redirected/blobs/${layer}`, {
      headers: { authorization: `Bearer ${token}` },
      redirect: "manual",
    });
    expect(blob.status).toBe(200);
    expect(sha256Digest(new Uint8Array(await blob.arrayBuffer()))).toBe(layer);
  });

  it("serves a second pull from its cache: no upstream blob GET, manifest GET or token request", async () => {
    const direct = await pull(`${stack.hub.host}/someuser/cached:1`);
    await resetCounts(stack.controlUrl);
    const cold = await pull(`${stack.proxy.host}/someuser/cached:1`);
    const coldCounts = await fetchCounts(stack.controlUrl);
    expectSameImage(cold, direct);
    expect(coldCounts.hub.blobGet).toBeGreaterThan(0);
    expect(coldCounts.token.anonymous).toBe(1);

    await resetCounts(stack.controlUrl);
    const warm = await pull(`${stack.proxy.host}/someuser/cached:1`);
    const warmCounts = await fetchCounts(stack.controlUrl);
    expectSameImage(warm, direct);
    // Only the tag is asked again, with a HEAD (which Docker Hub does not count as a pull).
    expect(warmCounts.hub).toMatchObject({
      blobGet: 0,
      blobHead: 0,
      manifestGet: 0,
      manifestHead: 1,
    });
    expect(warmCounts.cdn.get).toBe(0);
    expect(warmCounts.token.total).toBe(0);
  });

  it("pulls every platform of a multi-arch index with --all", async () => {
    const direct = await pull(`${stack.hub.host}/library/multi:1`, { all: true });
    const proxied = await pull(`${stack.proxy.host}/library/multi:1`, { all: true });
    expectSameImage(proxied, direct);
    const platforms = proxied.manifest.manifests ?? [];
    expect(platforms.map((m) => m.platform?.architecture)).toEqual(["amd64", "arm64"]);
    for (const { digest } of platforms) {
      // Each platform's manifest, and every blob it references, arrived intact.
      const bytes = await readFile(join(proxied.dir, `${hex(digest)}.manifest.json`));
      expect(sha256Digest(bytes)).toBe(digest);
      const instance = JSON.parse(bytes.toString("utf8"));
      for (const blob of [instance.config, ...instance.layers]) {
        expect(proxied.files[hex(blob.digest)]).toBe(blob.digest);
      }
    }
  });

  it("pulls a private repository with the user's credentials", async () => {
    const direct = await pull(`${stack.hub.host}/someuser/private:1`, { creds: stack.pullCreds });
    const proxied = await pull(`${stack.proxy.host}/someuser/private:1`, {
      creds: stack.pullCreds,
    });
    expectSameImage(proxied, direct);
  });

  it("refuses a private repository without credentials", async () => {
    const result = await pullToDir(
      home,
      `${stack.proxy.host}/someuser/private:1`,
      join(temp.path, "refused"),
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/unauthorized|denied/i);
  });

  it("serves docker.io pulls as the mirror named in registries.conf", async () => {
    const direct = await pull(`${stack.hub.host}/library/alpine:3`);
    const registriesConf = join(temp.path, "mirror-registries.conf");
    await writeFile(registriesConf, dockerHubMirrorConf(stack.proxy.host));
    // The real docker.io is unreachable here: success (with the seeded digest) means the mirror served it.
    const proxied = await pull("docker.io/library/alpine:3", { registriesConf });
    expectSameImage(proxied, direct);
  });

  it("routes a path-prefixed reference (ghcr.io/...) to the ghcr.io upstream", async () => {
    const direct = await pull(`${stack.ghcr.host}/org/tool:v1`);
    await resetCounts(stack.controlUrl);
    const proxied = await pull(`${stack.proxy.host}/ghcr.io/org/tool:v1`);
    const counts = await fetchCounts(stack.controlUrl);
    expectSameImage(proxied, direct);
    // The tag was resolved at ghcr (other suites may already have filled the cache with the rest).
    expect(counts.ghcr.manifestGet + counts.ghcr.manifestHead).toBeGreaterThan(0);
    expect(counts.hub.total).toBe(0);
  });

  it("answers a containerd-style ?ns=ghcr.io manifest request with a token from the proxy's realm", async () => {
    const digest = await manifestDigest(home, `${stack.ghcr.host}/org/tool:v1`);
    // As containerd does: the challenge of the ping, then a token from its realm.
    const { realm, token } = await tokenFor(
      `${stack.proxy.url}/v2/?ns=ghcr.io`,
      "repository:org/tool:pull",
    );
    expect(realm.startsWith(`${stack.proxy.url}/v2/auth`)).toBe(true);
    const response = await fetch(`${stack.proxy.url}/v2/org/tool/manifests/v1?ns=ghcr.io`, {
      headers: { accept: MANIFEST_ACCEPT, authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("docker-content-digest")).toBe(digest);
    expect(sha256Digest(new Uint8Array(await response.arrayBuffer()))).toBe(digest);
  });
});

/** Same manifest digest, and byte-identical blobs and manifests on disk. */
function expectSameImage(proxied: PulledImage, direct: PulledImage) {
  expect(proxied.digest).toBe(direct.digest);
  expect(proxied.files).toEqual(direct.files);
}

/** @returns the hex part of sha256:<hex>, which is how skopeo's dir: transport names files */
function hex(digest: string) {
  return digest.slice(digest.indexOf(":") + 1);
}
