// Pulls seeded images with a real containerd (1.6) whose hosts.toml names the proxy as the mirror of docker.io, ghcr.io and registry.k8s.io, so every request carries ?ns=<registry>: with `ctr images pull --hosts-dir`, and through the CRI plugin as the kubelet pulls.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { missingClientReason, seededDigest } from "./clients/common.mjs";
import {
  CONTAINERD_APT,
  CONTAINERD_BINARIES,
  startContainerd,
  type Containerd,
} from "./clients/containerd.mjs";
import { fetchCounts, resetCounts } from "./fixture/control.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

const missingClient = missingClientReason("containerd", CONTAINERD_BINARIES, CONTAINERD_APT);
// Locally a missing client skips this file (loudly); on CI the beforeAll below fails it instead.
const skip = inject("e2eSkipReason") || (missingClient && !process.env.CI);

describe.skipIf(skip)("containerd through the proxy (hosts.toml mirror, ?ns=)", () => {
  const stack = inject("stack");
  const hubDigest = (nameAndTag: string) => seededDigest(stack.images, "hub", nameAndTag);
  let temp: TempDir;
  let containerd: Containerd;

  beforeAll(async () => {
    if (missingClient) throw new Error(missingClient);
    temp = makeTempDir("cf-registry-proxy-containerd-");
    containerd = await startContainerd({
      workDir: temp.path,
      mirror: stack.proxy.url,
      registries: ["docker.io", "ghcr.io", "registry.k8s.io"],
      cri: true,
    });
  });
  afterAll(async () => {
    await containerd?.stop();
    await temp?.remove();
  });

  // docker.io and ghcr.io are unreachable here: every successful pull was served by the mirror.
  // The proxy may answer from its cache (other files pull the same images first), so the upstream
  // counters can only show that nothing went to the wrong upstream.

  it("pulls an official image (docker.io/library/alpine:3) with ns=docker.io", async () => {
    await resetCounts(stack.controlUrl);
    const pulled = await containerd.pull("docker.io/library/alpine:3");
    const counts = await fetchCounts(stack.controlUrl);
    expect(pulled.digest).toBe(hubDigest("library/alpine:3"));
    expect(counts.ghcr.total).toBe(0);
  });

  it("pulls a user-namespace image whose blobs the registry redirects to the CDN", async () => {
    const pulled = await containerd.pull("docker.io/someuser/tool:1");
    expect(pulled.digest).toBe(hubDigest("someuser/tool:1"));
  });

  it("pulls a multi-arch image: the recorded digest is the index's", async () => {
    const pulled = await containerd.pull("docker.io/library/multi:1", { platform: "linux/arm64" });
    expect(pulled.digest).toBe(hubDigest("library/multi:1"));
  });

  it("pulls by digest, as Kubernetes does for pinned images", async () => {
    const digest = hubDigest("someuser/tool:1");
    const pulled = await containerd.pull(`docker.io/someuser/tool@${digest}`);
    expect(pulled.digest).toBe(digest);
  });

  it("pulls a private repository with --user (containerd's OAuth2 POST to the proxy's realm)", async () => {
    const pulled = await containerd.pull("docker.io/someuser/private:1", { user: stack.pullCreds });
    expect(pulled.digest).toBe(hubDigest("someuser/private:1"));
  });

  it("routes a ghcr.io pull (ns=ghcr.io) to the ghcr upstream", async () => {
    await resetCounts(stack.controlUrl);
    const pulled = await containerd.pull("ghcr.io/org/tool:v1");
    const counts = await fetchCounts(stack.controlUrl);
    expect(pulled.digest).toBe(seededDigest(stack.images, "ghcr", "org/tool:v1"));
    expect(counts.hub.total).toBe(0);
  });

  it("routes a registry.k8s.io pull (ns=registry.k8s.io) through its redirects", async () => {
    await resetCounts(stack.controlUrl);
    const pulled = await containerd.pull("registry.k8s.io/pause:3.10");
    const counts = await fetchCounts(stack.controlUrl);
    expect(pulled.digest).toBe(seededDigest(stack.images, "k8s", "pause:3.10"));
    expect(counts.hub.total + counts.ghcr.total).toBe(0);
  });

  // The kubelet's way: CRI ImageService.PullImage, with the CRI plugin's registry config_path
  // pointing at hosts.toml files of the form the help page prints.
  describe("through the CRI plugin (ImageService.PullImage, as the kubelet pulls)", () => {
    it("pulls docker.io/library/alpine:3", async () => {
      const pulled = await containerd.criPull("docker.io/library/alpine:3");
      expect(pulled.digest).toBe(hubDigest("library/alpine:3"));
    });

    it("pulls ghcr.io/org/tool:v1 (ns=ghcr.io)", async () => {
      await resetCounts(stack.controlUrl);
      const pulled = await containerd.criPull("ghcr.io/org/tool:v1");
      const counts = await fetchCounts(stack.controlUrl);
      expect(pulled.digest).toBe(seededDigest(stack.images, "ghcr", "org/tool:v1"));
      expect(counts.hub.total).toBe(0);
    });

    it("pulls a private image with an image pull secret's credentials (AuthConfig)", async () => {
      const [username = "", password = ""] = stack.pullCreds.split(":");
      const pulled = await containerd.criPull("docker.io/someuser/private:1", {
        auth: { username, password },
      });
      expect(pulled.digest).toBe(hubDigest("someuser/private:1"));
    });
  });
});
