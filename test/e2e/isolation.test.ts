// Proves the end-to-end run is cut off from the internet (test/e2e/run-isolated.mjs): no DNS, no route, and every real client that is not pointed at a mirror fails to pull from Docker Hub at once.
import { lookup } from "node:dns/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { missingClientReason } from "./clients/common.mjs";
import { CONTAINERD_APT, CONTAINERD_BINARIES, startContainerd } from "./clients/containerd.mjs";
import { DOCKER_APT, DOCKER_BINARIES, startDocker } from "./clients/docker.mjs";
import { PODMAN_APT, PODMAN_BINARIES, startPodman } from "./clients/podman.mjs";
import { ISOLATION_HINT, loud, networkIsolated } from "./fixture/isolation.mjs";
import { makeSkopeoHome, skopeo } from "./fixture/skopeo.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

/** What a client gets when it asks the real Docker Hub for an image. */
const REFERENCE = "docker.io/library/alpine:3";
/** "At once": a DNS server or a SYN that gets no answer would take far longer. */
const AT_ONCE_MS = 3_000;
/** A pull that fails at once, plus the start-up of a client and its retries. */
const PULL_FAILS_WITHIN_MS = 30_000;

const isolated = networkIsolated();
if (!isolated && !process.env.CI) {
  console.warn(loud(`SKIPPING the isolation tests: this run is not isolated; ${ISOLATION_HINT}`));
}

/** What the tests below need of a client helper. */
type Client = { pull: (reference: string) => Promise<unknown>; stop: () => Promise<void> };

/** How a TCP connection attempt ended: "connected", "timeout" or the error code. */
function tcpConnect(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve("timeout");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** Runs `pull`, which must fail; returns its message and how long it took. */
async function failedPull(pull: () => Promise<unknown>): Promise<{ message: string; ms: number }> {
  const started = Date.now();
  const error = await pull().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  const ms = Date.now() - started;
  expect(error, "the pull from the real Docker Hub succeeded").toBeInstanceOf(Error);
  return { message: (error as Error).message, ms };
}

// On CI the global setup already refuses a run that is not isolated.
describe.skipIf(inject("e2eSkipReason") || (!isolated && !process.env.CI))(
  "the end-to-end run has no way to the internet",
  () => {
    let temp: TempDir;
    beforeAll(() => {
      // Every test below tries to get out: never let one run where it could.
      if (!isolated) throw new Error(`not isolated, so not trying the way out; ${ISOLATION_HINT}`);
      temp = makeTempDir("cf-registry-proxy-isolation-");
    });
    afterAll(() => temp?.remove());

    it("cannot resolve registry-1.docker.io nor connect to a public address, and both fail at once", async () => {
      const started = Date.now();
      const [dns, ipv4, ipv6] = await Promise.all([
        lookup("registry-1.docker.io").then(
          (address) => `resolved to ${address.address}`,
          (error: NodeJS.ErrnoException) => error.code ?? error.message,
        ),
        // Global unicast addresses from the documentation ranges (RFC 5737, RFC 3849): they need
        // a route like any public address, and no server of anyone's is there.
        tcpConnect("203.0.113.10", 443, 10_000),
        tcpConnect("2001:db8::10", 443, 10_000),
      ]);
      const ms = Date.now() - started;
      expect(dns).toMatch(/^(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ENETUNREACH)$/);
      expect(ipv4).toMatch(/^(ENETUNREACH|EHOSTUNREACH)$/);
      expect(ipv6).toMatch(/^(ENETUNREACH|EHOSTUNREACH|EADDRNOTAVAIL)$/);
      expect(ms).toBeLessThan(AT_ONCE_MS);
    });

    it("skopeo cannot inspect docker.io/library/alpine:3", async () => {
      const home = await makeSkopeoHome(join(temp.path, "skopeo"));
      const { message, ms } = await failedPull(async () => {
        const result = await skopeo(home, ["inspect", "--raw", `docker://${REFERENCE}`]);
        if (result.code !== 0) throw new Error(result.stderr);
      });
      expect(message).toMatch(/registry-1\.docker\.io/);
      expect(ms).toBeLessThan(PULL_FAILS_WITHIN_MS);
    });

    /** Each client with nothing but its defaults: docker.io means the real Docker Hub. */
    const clients: [string, string, (workDir: string) => Promise<Client>][] = [
      [
        "dockerd without a mirror",
        missingClientReason("docker", DOCKER_BINARIES, DOCKER_APT),
        (workDir) => startDocker({ workDir }),
      ],
      [
        "containerd (ctr, no hosts.toml)",
        missingClientReason("containerd", CONTAINERD_BINARIES, CONTAINERD_APT),
        (workDir) => startContainerd({ workDir }),
      ],
      [
        "podman without a mirror",
        missingClientReason("podman", PODMAN_BINARIES, PODMAN_APT),
        (workDir) => startPodman({ workDir, mirrors: {} }),
      ],
    ];
    for (const [name, missing, start] of clients) {
      it.skipIf(missing && !process.env.CI)(`${name} cannot pull ${REFERENCE}`, async () => {
        if (missing) throw new Error(missing);
        const client = await start(join(temp.path, name.split(" ")[0] ?? "client"));
        try {
          const { message, ms } = await failedPull(() => client.pull(REFERENCE));
          expect(message).toMatch(/registry-1\.docker\.io/);
          expect(ms).toBeLessThan(PULL_FAILS_WITHIN_MS);
        } finally {
          await client.stop();
        }
      });
    }
  },
);
