// Pulls seeded images with real podman (4.3) whose registries.conf names the proxy as the mirror of docker.io and, with a path, of ghcr.io and registry.k8s.io.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { missingClientReason, seededDigest } from "./clients/common.mjs";
import { PODMAN_APT, PODMAN_BINARIES, startPodman, type Podman } from "./clients/podman.mjs";
import { fetchCounts, resetCounts } from "./fixture/control.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

const missingClient = missingClientReason("podman", PODMAN_BINARIES, PODMAN_APT);
// Locally a missing client skips this file (loudly); on CI the beforeAll below fails it instead.
const skip = inject("e2eSkipReason") || (missingClient && !process.env.CI);

describe.skipIf(skip)("podman through the proxy (registries.conf mirrors)", () => {
  const stack = inject("stack");
  const hubDigest = (nameAndTag: string) => seededDigest(stack.images, "hub", nameAndTag);
  let temp: TempDir;
  let podman: Podman;

  beforeAll(async () => {
    if (missingClient) throw new Error(missingClient);
    temp = makeTempDir("cf-registry-proxy-podman-");
    podman = await startPodman({
      workDir: temp.path,
      mirrors: {
        "docker.io": stack.proxy.host,
        "ghcr.io": `${stack.proxy.host}/ghcr.io`,
        "registry.k8s.io": `${stack.proxy.host}/registry.k8s.io`,
      },
    });
  });
  afterAll(async () => {
    await podman?.stop();
    await temp?.remove();
  });

  // docker.io and ghcr.io are unreachable here: every successful pull was served by the mirror.
  // The proxy may answer from its cache (other files pull the same images first), so the upstream
  // counters can only show that nothing went to the wrong upstream.

  it("pulls an official image by its short name (`podman pull alpine:3`) from the docker.io mirror", async () => {
    await resetCounts(stack.controlUrl);
    const pulled = await podman.pull("alpine:3");
    const counts = await fetchCounts(stack.controlUrl);
    expect(pulled.digest).toBe(hubDigest("library/alpine:3"));
    expect(pulled.repoDigests).toContain(`docker.io/library/alpine@${pulled.digest}`);
    expect(counts.ghcr.total).toBe(0);
  });

  it("pulls a user-namespace image whose blobs the registry redirects to the CDN", async () => {
    const pulled = await podman.pull("docker.io/someuser/tool:1");
    expect(pulled.digest).toBe(hubDigest("someuser/tool:1"));
  });

  it("pulls a multi-arch image: the digest is the index's", async () => {
    const pulled = await podman.pull("docker.io/library/multi:1");
    expect(pulled.digest).toBe(hubDigest("library/multi:1"));
    expect(pulled.repoDigests).toContain(`docker.io/library/multi@${pulled.digest}`);
  });

  it("pulls by digest (`podman pull docker.io/someuser/tool@sha256:…`)", async () => {
    const digest = hubDigest("someuser/tool:1");
    const pulled = await podman.pull(`docker.io/someuser/tool@${digest}`);
    expect(pulled.digest).toBe(digest);
  });

  it("pulls a private repository after `podman login <mirror>`", async () => {
    // containers/image never sends docker.io credentials (stored or --creds) to a mirror.
    await podman.login(stack.proxy.host, stack.pullCreds);
    try {
      const pulled = await podman.pull("docker.io/someuser/private:1");
      expect(pulled.digest).toBe(hubDigest("someuser/private:1"));
    } finally {
      await podman.logout(stack.proxy.host);
    }
  });

  it("routes ghcr.io pulls through a mirror location with a /ghcr.io path", async () => {
    await resetCounts(stack.controlUrl);
    const pulled = await podman.pull("ghcr.io/org/tool:v1");
    const counts = await fetchCounts(stack.controlUrl);
    expect(pulled.digest).toBe(seededDigest(stack.images, "ghcr", "org/tool:v1"));
    expect(counts.hub.total).toBe(0);
  });

  it("routes registry.k8s.io pulls through a mirror location with a /registry.k8s.io path", async () => {
    await resetCounts(stack.controlUrl);
    const pulled = await podman.pull("registry.k8s.io/pause:3.10");
    const counts = await fetchCounts(stack.controlUrl);
    expect(pulled.digest).toBe(seededDigest(stack.images, "k8s", "pause:3.10"));
    expect(counts.hub.total + counts.ghcr.total).toBe(0);
  });
});
