// Pulls seeded images with a real Docker daemon (20.10) that uses the proxy as its Docker Hub `registry-mirrors` entry, and by proxy-prefixed references.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { missingClientReason, seededDigest } from "./clients/common.mjs";
import { DOCKER_APT, DOCKER_BINARIES, startDocker, type Docker } from "./clients/docker.mjs";
import { fetchCounts, resetCounts } from "./fixture/control.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

const missingClient = missingClientReason("docker", DOCKER_BINARIES, DOCKER_APT);
// Locally a missing client skips this file (loudly); on CI the beforeAll below fails it instead.
const skip = inject("e2eSkipReason") || (missingClient && !process.env.CI);

describe.skipIf(skip)("docker through the proxy", () => {
  const stack = inject("stack");
  const hubDigest = (nameAndTag: string) => seededDigest(stack.images, "hub", nameAndTag);
  let temp: TempDir;
  let docker: Docker;

  beforeAll(async () => {
    if (missingClient) throw new Error(missingClient);
    temp = makeTempDir("cf-registry-proxy-docker-");
    docker = await startDocker({ workDir: temp.path, mirror: stack.proxy.url });
  });
  afterAll(async () => {
    await docker?.stop();
    await temp?.remove();
  });

  // docker.io itself is unreachable here: every successful docker.io pull was served by the mirror.
  // The proxy may answer from its cache (other files pull the same images first), so the upstream
  // counters can only show that nothing went to the wrong upstream.

  it("pulls an official image by its short name (`docker pull alpine:3`) from the mirror", async () => {
    await resetCounts(stack.controlUrl);
    const pulled = await docker.pull("alpine:3");
    const counts = await fetchCounts(stack.controlUrl);
    expect(pulled.digest).toBe(hubDigest("library/alpine:3"));
    expect(pulled.repoDigests).toContain(`alpine@${pulled.digest}`);
    expect(counts.ghcr.total).toBe(0);
  });

  it("pulls a user-namespace image whose blobs the registry redirects to the CDN", async () => {
    const pulled = await docker.pull("someuser/tool:1");
    expect(pulled.digest).toBe(hubDigest("someuser/tool:1"));
    expect(pulled.repoDigests).toContain(`someuser/tool@${pulled.digest}`);
  });

  it("pulls a multi-arch image: the digest is the index's", async () => {
    const pulled = await docker.pull("multi:1");
    expect(pulled.digest).toBe(hubDigest("library/multi:1"));
  });

  it("pulls by digest (`docker pull someuser/tool@sha256:…`)", async () => {
    const digest = hubDigest("someuser/tool:1");
    const pulled = await docker.pull(`someuser/tool@${digest}`);
    expect(pulled.digest).toBe(digest);
  });

  it("pulls a private repository with the Docker Hub login, which the daemon presents to the mirror's realm", async () => {
    await docker.setHubCredentials(stack.pullCreds);
    try {
      const pulled = await docker.pull("someuser/private:1");
      expect(pulled.digest).toBe(hubDigest("someuser/private:1"));
    } finally {
      await docker.setHubCredentials(undefined);
    }
  });

  it("pulls a proxy-prefixed ghcr.io reference (`docker pull <proxy>/ghcr.io/org/tool:v1`)", async () => {
    await resetCounts(stack.controlUrl);
    // dockerd tries https:// first (127.0.0.0/8 is an insecure registry; the fixture's front
    // refuses TLS at once), then http://.
    const pulled = await docker.pull(`${stack.proxy.host}/ghcr.io/org/tool:v1`);
    const counts = await fetchCounts(stack.controlUrl);
    expect(pulled.digest).toBe(seededDigest(stack.images, "ghcr", "org/tool:v1"));
    expect(pulled.repoDigests).toContain(`${stack.proxy.host}/ghcr.io/org/tool@${pulled.digest}`);
    expect(counts.hub.total).toBe(0);
  });

  it("pulls a proxy-prefixed registry.k8s.io reference (redirects to Artifact Registry and a bucket)", async () => {
    await resetCounts(stack.controlUrl);
    const pulled = await docker.pull(`${stack.proxy.host}/registry.k8s.io/pause:3.10`);
    const counts = await fetchCounts(stack.controlUrl);
    expect(pulled.digest).toBe(seededDigest(stack.images, "k8s", "pause:3.10"));
    expect(counts.hub.total + counts.ghcr.total).toBe(0);
  });
});
