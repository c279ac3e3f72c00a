// Rootful podman 4.3 with private storage (vfs), configuration and auth file, pulling through registry mirrors set in a private registries.conf.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { noInternetEnv } from "../fixture/isolation.mjs";
import { guardWorkDir, runChecked } from "./common.mjs";

/** Programs this helper runs, and where Debian gets them. */
export const PODMAN_BINARIES = ["podman"];
export const PODMAN_APT = "podman";

/**
 * @typedef {object} PodmanPull
 * @property {string} digest  `podman image inspect` .Digest: the manifest digest the pull resolved
 * @property {string[]} repoDigests  e.g. ["docker.io/library/alpine@sha256:..."]
 *
 * @typedef {object} Podman
 * @property {(reference: string) => Promise<PodmanPull>} pull
 *   `podman pull`; throws with podman's output (`--log-level debug` names every URL it tried)
 * @property {(registry: string, creds: string) => Promise<void>} login
 *   `podman login` ("user:password"), stored in the private auth file. containers/image never
 *   sends `--creds` or docker.io's stored login to a mirror: a mirror needs a login of its own,
 *   under the mirror's host:port
 * @property {(registry: string) => Promise<void>} logout
 * @property {() => Promise<void>} stop  deletes workDir (podman has no daemon; this also catches
 *   anything a killed pull left)
 */

/**
 * Prepares podman with everything under `workDir`; podman is daemonless, so nothing runs between pulls.
 * @param {{ workDir: string, mirrors: Record<string, string> }} options
 *   mirrors: registry -> mirror location (host:port, optionally with a path), e.g.
 *   { "docker.io": "127.0.0.1:8787", "ghcr.io": "127.0.0.1:8787/ghcr.io" }; each mirror is
 *   plain HTTP (`insecure = true`), tried before the registry itself
 * @returns {Promise<Podman>}
 */
export async function startPodman({ workDir, mirrors }) {
  // Rootful podman keeps netavark's run dir at /run/containers/networks whatever the config says.
  const guard = guardWorkDir(workDir, ["/run/containers/networks", "/run/containers"]);
  const files = {
    registries: join(workDir, "registries.conf"),
    containers: join(workDir, "containers.conf"),
    storage: join(workDir, "storage.conf"),
    auth: join(workDir, "auth.json"),
  };
  const tmp = join(workDir, "tmp");
  await mkdir(tmp, { recursive: true });
  await writeFile(files.registries, registriesConf(mirrors));
  await writeFile(files.containers, containersConf(workDir));
  const storage = { graphroot: join(workDir, "storage"), runroot: join(workDir, "run") };
  // No host storage.conf options (additional image stores, mount programs) leak in.
  await writeFile(
    files.storage,
    `[storage]\ndriver = "vfs"\ngraphroot = ${JSON.stringify(storage.graphroot)}\nrunroot = ${JSON.stringify(storage.runroot)}\n`,
  );
  await writeFile(files.auth, JSON.stringify({ auths: {} }));

  // prettier-ignore
  const globalFlags = [
    "--root", storage.graphroot,
    "--runroot", storage.runroot,
    "--storage-driver", "vfs",
    "--tmpdir", join(workDir, "libpod"),
    "--cgroup-manager", "cgroupfs",
    "--events-backend", "file",
  ];
  const env = {
    PATH: process.env.PATH,
    HOME: workDir,
    XDG_CONFIG_HOME: join(workDir, "config"),
    TMPDIR: tmp,
    CONTAINERS_REGISTRIES_CONF: files.registries,
    CONTAINERS_CONF: files.containers,
    CONTAINERS_STORAGE_CONF: files.storage,
    REGISTRY_AUTH_FILE: files.auth,
    ...noInternetEnv(),
  };
  const podman = (/** @type {string[]} */ args) =>
    runChecked("podman", [...globalFlags, ...args], { env, timeoutMs: 120_000 });

  return {
    async pull(reference) {
      await podman(["pull", "--log-level", "debug", reference]);
      const [image] = JSON.parse(await podman(["image", "inspect", reference]));
      return { digest: image.Digest, repoDigests: image.RepoDigests };
    },
    async login(registry, creds) {
      const colon = creds.indexOf(":");
      const [username, password] = [creds.slice(0, colon), creds.slice(colon + 1)];
      // Test credentials only: on the command line is fine.
      // prettier-ignore
      await podman(["login", "--tls-verify=false", "--username", username, "--password", password, registry]);
    },
    async logout(registry) {
      await podman(["logout", registry]);
    },
    async stop() {
      guard.remove();
    },
  };
}

/**
 * One [[registry]] per mirrored registry; short names resolve to docker.io.
 * @param {Record<string, string>} mirrors
 */
function registriesConf(mirrors) {
  const q = JSON.stringify;
  const lines = ['unqualified-search-registries = ["docker.io"]', 'short-name-mode = "permissive"'];
  for (const [registry, location] of Object.entries(mirrors)) {
    lines.push(
      "",
      "[[registry]]",
      `prefix = ${q(registry)}`,
      `location = ${q(registry)}`,
      "[[registry.mirror]]",
      `location = ${q(location)}`,
      "insecure = true",
    );
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Paths podman would otherwise take from /var/lib/containers, /var/tmp and /etc.
 * @param {string} dir
 */
function containersConf(dir) {
  const q = JSON.stringify;
  return `[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = ${q(join(dir, "events.log"))}
image_copy_tmp_dir = ${q(join(dir, "tmp"))}
static_dir = ${q(join(dir, "storage", "libpod"))}
volume_path = ${q(join(dir, "storage", "volumes"))}

[network]
network_config_dir = ${q(join(dir, "networks"))}
`;
}
