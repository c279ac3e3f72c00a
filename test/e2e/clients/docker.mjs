// A private Docker 20.10 daemon (own data root, exec root, socket, containerd; no iptables, no bridge, vfs) with registry-mirrors, and `docker pull` through it.
import { mkdir, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { noInternetEnv } from "../fixture/isolation.mjs";
import { waitUntil } from "../fixture/net.mjs";
import { startService } from "../fixture/processes.mjs";
import { guardWorkDir, runChecked } from "./common.mjs";
import { startContainerd } from "./containerd.mjs";

/** Programs this helper runs, and where Debian gets them. */
export const DOCKER_BINARIES = ["dockerd", "docker", "containerd", "ctr"];
export const DOCKER_APT = "docker.io containerd";

/** Where the docker CLI keeps Docker Hub credentials (config.json `auths` key). */
const HUB_AUTH_KEY = "https://index.docker.io/v1/";

/**
 * @typedef {object} DockerPull
 * @property {string} digest  the "Digest: sha256:..." line of `docker pull`
 * @property {string[]} repoDigests  `docker image inspect` RepoDigests, e.g. ["alpine@sha256:..."]
 *
 * @typedef {object} SearchRow  one row of `docker search`'s table
 * @property {string} name
 * @property {string} description  as printed (the CLI shortens long ones)
 * @property {number} stars
 * @property {boolean} official  `[OK]` in the OFFICIAL column
 * @property {boolean | undefined} automated  `[OK]` in the AUTOMATED column (undefined: the CLI
 *   prints none, as Docker CLI 25 and later do)
 *
 * @typedef {{ output: string, rows: SearchRow[] }} DockerSearch
 *
 * @typedef {object} Docker
 * @property {string} socket  unix socket path (`docker -H unix://<socket>`)
 * @property {(reference: string) => Promise<DockerPull>} pull  throws with the CLI's output and the daemon's log tail
 * @property {(registry: string, creds: string) => Promise<void>} login
 *   `docker login <registry>` ("user:password"): the daemon checks them against the registry
 *   (its /v2/ and token realm) and the CLI stores them in its private config under `registry`
 * @property {(registry: string) => Promise<void>} logout  `docker logout <registry>`
 * @property {(term: string, options?: { limit?: number }) => Promise<DockerSearch>} search
 *   `docker search [--limit N] <term>` (term e.g. 127.0.0.1:PORT/nginx: the daemon asks that
 *   host's `/v1/search`, with the CLI's stored login for it); throws with the CLI's output and
 *   the daemon's log tail
 * @property {(reference: string) => Promise<void>} removeImage
 *   `docker rmi`, so the next pull of it fetches every blob again
 * @property {(creds: string | undefined) => Promise<void>} setHubCredentials
 *   "user:password" stored for Docker Hub in the CLI's private config, as `docker login` would
 *   (the daemon then presents them to the mirror's token realm); undefined logs out
 * @property {() => Promise<void>} stop  stops dockerd and its containerd, deletes workDir
 */

/**
 * Starts dockerd whose `registry-mirrors` is `[mirror]` (none without one), with everything under `workDir`.
 * It runs against a containerd of its own (startContainerd) rather than the one dockerd would
 * spawn, because that one writes /opt/containerd.
 * @param {{ workDir: string, mirror?: string, timeoutMs?: number }} options  mirror: http://127.0.0.1:PORT
 * @returns {Promise<Docker>}
 */
export async function startDocker({ workDir, mirror, timeoutMs = 60_000 }) {
  // dockerd always creates /run/docker/plugins for plugin discovery.
  const guard = guardWorkDir(workDir, ["/run/docker/plugins", "/run/docker"]);
  const cliConfig = join(workDir, "cli");
  await mkdir(cliConfig, { recursive: true });
  const daemonJson = join(workDir, "daemon.json");
  await writeFile(
    daemonJson,
    JSON.stringify({
      "registry-mirrors": mirror ? [mirror] : [],
      "insecure-registries": mirror ? [new URL(mirror).host] : [],
      // The trust key would otherwise go to /etc/docker/key.json.
      "deprecated-key-path": join(workDir, "key.json"),
    }),
  );
  await writeFile(join(cliConfig, "config.json"), JSON.stringify({ auths: {} }));
  const socket = join(workDir, "docker.sock");

  const containerd = await startContainerd({ workDir: join(workDir, "containerd") }).catch(
    (error) => {
      guard.remove();
      throw error;
    },
  );
  // prettier-ignore
  const daemon = startService("dockerd", "dockerd", [
    "--config-file", daemonJson,
    "--containerd", containerd.address,
    "--data-root", join(workDir, "data"),
    "--exec-root", join(workDir, "exec"),
    "--pidfile", join(workDir, "docker.pid"),
    "-H", `unix://${socket}`,
    "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--bridge=none",
    "--storage-driver=vfs",
  ], { logFile: join(workDir, "dockerd.log"), env: { PATH: process.env.PATH, ...noInternetEnv() } });

  const stop = async () => {
    // SIGTERM: dockerd unmounts its data root and exits; containerd stops after it.
    await daemon.stop();
    await containerd.stop();
    guard.remove();
  };

  try {
    await waitUntil(
      async () => {
        daemon.assertRunning();
        return (await ping(socket)) === 200;
      },
      { what: `dockerd on ${socket}`, timeoutMs },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const cli = (/** @type {string[]} */ args) =>
    runChecked("docker", ["-H", `unix://${socket}`, ...args], {
      timeoutMs: 120_000,
      env: { PATH: process.env.PATH, HOME: workDir, DOCKER_CONFIG: cliConfig },
    });

  return {
    socket,
    async pull(reference) {
      let output;
      try {
        output = await cli(["pull", reference]);
      } catch (error) {
        throw new Error(
          `${error instanceof Error ? error.message : error}\n--- dockerd log\n${daemon.logTail(30)}`,
        );
      }
      const digest = /^Digest: (sha256:[0-9a-f]{64})$/m.exec(output)?.[1];
      if (!digest) throw new Error(`no digest in docker pull output:\n${output}`);
      const repoDigests = JSON.parse(
        await cli(["image", "inspect", "--format", "{{json .RepoDigests}}", reference]),
      );
      return { digest, repoDigests };
    },
    async login(registry, creds) {
      const colon = creds.indexOf(":");
      const [username, password] = [creds.slice(0, colon), creds.slice(colon + 1)];
      // Test credentials only: on the command line is fine.
      try {
        await cli(["login", "--username", username, "--password", password, registry]);
      } catch (error) {
        throw new Error(
          `${error instanceof Error ? error.message : error}\n--- dockerd log\n${daemon.logTail(30)}`,
        );
      }
    },
    async logout(registry) {
      await cli(["logout", registry]);
    },
    async search(term, { limit } = {}) {
      const args = ["search", ...(limit === undefined ? [] : ["--limit", String(limit)]), term];
      let output;
      try {
        output = await cli(args);
      } catch (error) {
        throw new Error(
          `${error instanceof Error ? error.message : error}\n--- dockerd log\n${daemon.logTail(30)}`,
        );
      }
      return { output, rows: parseSearchTable(output) };
    },
    async removeImage(reference) {
      await cli(["rmi", reference]);
    },
    async setHubCredentials(creds) {
      const auths = creds
        ? { [HUB_AUTH_KEY]: { auth: Buffer.from(creds).toString("base64") } }
        : {};
      await writeFile(join(cliConfig, "config.json"), JSON.stringify({ auths }));
    },
    stop,
  };
}

/**
 * The rows of `docker search`'s table: NAME, DESCRIPTION, STARS, OFFICIAL and, before Docker CLI
 * 25, AUTOMATED, aligned in columns (the header's words say where each column starts).
 * @param {string} output
 * @returns {SearchRow[]}
 */
export function parseSearchTable(output) {
  const [header = "", ...lines] = output.split("\n").filter((line) => line.trim());
  const columns = ["NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"];
  const starts = columns.map((column) => header.indexOf(column));
  if (starts.slice(0, 4).some((start) => start < 0)) {
    throw new Error(`not a docker search table:\n${output}`);
  }
  const automatedColumn = starts[4] !== undefined && starts[4] >= 0;
  const bounds = automatedColumn ? starts : starts.slice(0, 4);
  return lines.map((line) => {
    const [name = "", description = "", stars = "", official = "", automated = ""] = bounds.map(
      (start, i) => line.slice(start, bounds[i + 1]).trim(),
    );
    return {
      name,
      description,
      stars: Number(stars),
      official: official === "[OK]",
      automated: automatedColumn ? automated === "[OK]" : undefined,
    };
  });
}

/**
 * Status of the daemon's `GET /_ping`, or undefined while nothing answers.
 * @param {string} socketPath
 * @returns {Promise<number | undefined>}
 */
function ping(socketPath) {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/_ping", timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(undefined));
    req.end();
  });
}

/**
 * `docker manifest inspect --insecure <reference>`: the docker CLI reads a manifest (or index)
 * from a registry itself, without a daemon. Resolves to what it prints (JSON).
 * @param {string} reference  e.g. 127.0.0.1:PORT/library/multi:1
 * @param {{ configDir: string }} options  a private DOCKER_CONFIG (it may hold logins)
 * @returns {Promise<unknown>}
 */
export async function dockerManifestInspect(reference, { configDir }) {
  await mkdir(configDir, { recursive: true });
  await writeFile(join(configDir, "config.json"), JSON.stringify({ auths: {} }), {
    flag: "wx",
  }).catch(() => {});
  const output = await runChecked("docker", ["manifest", "inspect", "--insecure", reference], {
    timeoutMs: 60_000,
    env: { PATH: process.env.PATH, HOME: configDir, DOCKER_CONFIG: configDir, ...noInternetEnv() },
  });
  return JSON.parse(output);
}
