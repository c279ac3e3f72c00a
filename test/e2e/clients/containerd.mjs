// A private containerd 1.6 (own root, state, socket; CRI only when asked) and `ctr images pull` or a CRI PullImage through a registry mirror set in hosts.toml files.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { noInternetEnv } from "../fixture/isolation.mjs";
import { waitUntil } from "../fixture/net.mjs";
import { run, startService } from "../fixture/processes.mjs";
import { guardWorkDir, runChecked } from "./common.mjs";
import { criPullImage } from "./cri.mjs";

/** Programs this helper runs, and where Debian gets them. */
export const CONTAINERD_BINARIES = ["containerd", "ctr"];
export const CONTAINERD_APT = "containerd";

/** The host a registry's hosts.toml names as its upstream (containerd's own default for docker.io). */
const SERVERS = { "docker.io": "https://registry-1.docker.io" };

/**
 * @typedef {object} Containerd
 * @property {string} address  the gRPC socket (for `ctr --address` or `dockerd --containerd`)
 * @property {string} hostsDir  `ctr --hosts-dir`: one `<registry>/hosts.toml` per mirrored registry
 * @property {(reference: string, options?: { user?: string, platform?: string }) => Promise<{ digest: string }>} pull
 *   `ctr images pull` of a fully qualified reference; resolves to the digest containerd recorded for
 *   it (the index digest for a multi-platform image). Throws with ctr's output, which names each
 *   host tried and why it was left.
 * @property {(reference: string, options?: { auth?: import("./cri.mjs").CriAuth }) => Promise<{ digest: string }>} criPull
 *   CRI `ImageService.PullImage`, as the kubelet pulls (needs `cri: true`); resolves to the
 *   digest containerd recorded in the CRI's `k8s.io` namespace
 * @property {() => Promise<void>} stop  stops containerd and deletes workDir
 */

/**
 * Starts containerd with everything under `workDir` and, when `mirror` is given, a hosts dir that
 * sends each of `registries` to it: `[host."<mirror>"] capabilities = ["pull", "resolve"]`, so
 * containerd adds `?ns=<registry>` to every request it makes to the mirror.
 * @param {{ workDir: string, mirror?: string, registries?: string[], cri?: boolean, timeoutMs?: number }} options
 *   mirror: e.g. http://127.0.0.1:8787 (plain http needs no --plain-http when the scheme says so);
 *   cri: also serve the Kubernetes CRI, pulling with the same hosts dir (`criPull`)
 * @returns {Promise<Containerd>}
 */
export async function startContainerd({
  workDir,
  mirror,
  registries = ["docker.io"],
  cri = false,
  timeoutMs = 30_000,
}) {
  const guard = guardWorkDir(workDir);
  const address = join(workDir, "containerd.sock");
  const hostsDir = join(workDir, "hosts");
  await mkdir(hostsDir, { recursive: true });
  const config = join(workDir, "config.toml");
  await writeFile(config, configToml(workDir, address, { cri, hostsDir }));
  if (mirror) {
    for (const registry of registries) {
      await mkdir(join(hostsDir, registry), { recursive: true });
      await writeFile(join(hostsDir, registry, "hosts.toml"), hostsToml(registry, mirror));
    }
  }

  const daemon = startService("containerd", "containerd", ["--config", config], {
    logFile: join(workDir, "containerd.log"),
    env: { PATH: process.env.PATH, ...noInternetEnv() },
  });
  const stop = async () => {
    await daemon.stop();
    guard.remove();
  };
  const ctr = (/** @type {string[]} */ args) =>
    runChecked("ctr", ["--address", address, ...args], {
      timeoutMs: 120_000,
      // ctr itself resolves and fetches (`ctr images pull` is a client-side pull).
      env: { PATH: process.env.PATH, ...noInternetEnv() },
    });

  try {
    await waitUntil(
      async () => {
        daemon.assertRunning();
        return (
          (await run("ctr", ["--address", address, "version"], { timeoutMs: 5_000 })).code === 0
        );
      },
      { what: `containerd on ${address}`, timeoutMs },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    address,
    hostsDir,
    async pull(reference, { user, platform } = {}) {
      // native snapshotter: unpacking is a plain copy, no overlay mounts to clean up.
      const args = ["images", "pull", "--hosts-dir", hostsDir, "--snapshotter", "native"];
      if (user) args.push("--user", user);
      if (platform) args.push("--platform", platform);
      await ctr([...args, reference]);
      return { digest: await imageDigest(reference) };
    },
    async criPull(reference, { auth } = {}) {
      await criPullImage(address, reference, { auth });
      return { digest: await imageDigest(reference, "k8s.io") };
    },
    stop,
  };

  /**
   * @param {string} reference
   * @param {string} [namespace]  containerd namespace: ctr's default, or the CRI's k8s.io
   */
  async function imageDigest(reference, namespace = "default") {
    // REF  TYPE  DIGEST  SIZE ... ; the filter leaves the header and one row.
    const table = await ctr(["--namespace", namespace, "images", "ls", `name==${reference}`]);
    const digest = table.split("\n")[1]?.trim().split(/\s+/)[2];
    if (!digest?.startsWith("sha256:")) throw new Error(`no digest for ${reference} in:\n${table}`);
    return digest;
  }
}

/**
 * containerd's config: every path private, no snapshotters that probe for special filesystems.
 * Without `cri` no CRI plugin either (faster start, no /etc/cni or /opt/cni lookups); with it,
 * the CRI plugin reads registry hosts from `hostsDir` (`config_path`, as the help page says) and
 * does without cgroups, AppArmor and CNI: it only pulls.
 * @param {string} dir
 * @param {string} address
 * @param {{ cri: boolean, hostsDir: string }} options
 */
function configToml(dir, address, { cri, hostsDir }) {
  const q = JSON.stringify;
  const criConfig = `
[plugins."io.containerd.grpc.v1.cri"]
  disable_apparmor = true
  disable_cgroup = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${q(join(dir, "cni", "bin"))}
    conf_dir = ${q(join(dir, "cni", "conf"))}
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ${q(hostsDir)}
`;
  return `version = 2
root = ${q(join(dir, "root"))}
state = ${q(join(dir, "state"))}
disabled_plugins = [${
    cri
      ? ""
      : `
  "io.containerd.grpc.v1.cri",`
  }
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = ${q(address)}

[ttrpc]
  address = ${q(`${address}.ttrpc`)}

[debug]
  address = ""

# Default is /opt/containerd.
[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(dir, "opt"))}
${cri ? criConfig : ""}`;
}

/**
 * A hosts.toml that tries the mirror first, then the registry itself.
 * @param {string} registry  e.g. docker.io, ghcr.io
 * @param {string} mirror  URL with scheme
 */
function hostsToml(registry, mirror) {
  const server = SERVERS[/** @type {keyof typeof SERVERS} */ (registry)] ?? `https://${registry}`;
  return `server = ${JSON.stringify(server)}

[host.${JSON.stringify(mirror)}]
  capabilities = ["pull", "resolve"]
`;
}
