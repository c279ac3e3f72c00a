// Real clients log in to a proxy locked with PROXY_USERS: `docker login <proxy>` for prefixed pulls, Docker Hub's login for the daemon's registry-mirrors entry, `podman login <proxy>` for a registries.conf mirror.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { missingClientReason, seededDigest } from "./clients/common.mjs";
import { DOCKER_APT, DOCKER_BINARIES, startDocker, type Docker } from "./clients/docker.mjs";
import { PODMAN_APT, PODMAN_BINARIES, startPodman, type Podman } from "./clients/podman.mjs";
import { startProxy } from "./fixture/proxy.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

const USER = "mirror-user:correct-horse";
const REFUSED = /unauthorized|authentication required/i;

const missingDocker = missingClientReason("docker", DOCKER_BINARIES, DOCKER_APT);
const missingPodman = missingClientReason("podman", PODMAN_BINARIES, PODMAN_APT);
// Locally a missing client skips its block (loudly); on CI its beforeAll fails it instead.
const skipDocker = Boolean(missingDocker) && !process.env.CI;
const skipPodman = Boolean(missingPodman) && !process.env.CI;

/** `text` as a literal inside a RegExp. */
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The message a failed client call threw; fails the test when the call succeeded. */
async function failure(call: Promise<unknown>): Promise<string> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error, "expected the command to fail").toBeInstanceOf(Error);
  return (error as Error).message;
}

describe.skipIf(inject("e2eSkipReason") || (skipDocker && skipPodman))(
  "real clients and a proxy that requires a login",
  () => {
    const stack = inject("stack");
    const alpineDigest = () => seededDigest(stack.images, "hub", "library/alpine:3");
    let temp: TempDir;
    let proxy: Awaited<ReturnType<typeof startProxy>>;

    beforeAll(async () => {
      temp = makeTempDir("cf-registry-proxy-login-");
      proxy = await startProxy({
        dir: join(temp.path, "proxy"),
        upstreams: { docker: stack.hub.url, ghcr: stack.ghcr.url },
        vars: { PROXY_USERS: `${USER},other:secret` },
      });
    });
    afterAll(async () => {
      await proxy?.stop();
      await temp?.remove();
    });

    // docker.io is unreachable here: every successful pull was served by the locked proxy.

    describe.skipIf(skipDocker)("docker (the locked proxy is also the daemon's mirror)", () => {
      let docker: Docker;

      beforeAll(async () => {
        if (missingDocker) throw new Error(missingDocker);
        docker = await startDocker({ workDir: join(temp.path, "docker"), mirror: proxy.url });
      });
      afterAll(async () => {
        await docker?.stop();
      });

      /** The CLI's part of a failed pull's message, without the daemon's log tail. */
      const cliPart = (message: string) => message.split("\n--- dockerd log\n")[0]!;

      it("refuses `docker pull <proxy>/alpine:3` without a login", async () => {
        const message = await failure(docker.pull(`${proxy.host}/alpine:3`));
        expect(cliPart(message)).toMatch(REFUSED);
      });

      it("refuses `docker login <proxy>` with a wrong password", async () => {
        const message = await failure(docker.login(proxy.host, "mirror-user:wrong"));
        // The proxy's own refusal, not an upstream's: the login never leaves the proxy.
        expect(cliPart(message)).toMatch(/log in to this proxy/);
      });

      it("pulls `<proxy>/alpine:3` after `docker login <proxy>`, and not after `docker logout`", async () => {
        const reference = `${proxy.host}/alpine:3`;
        await docker.login(proxy.host, USER);
        const pulled = await docker.pull(reference);
        expect(pulled.digest).toBe(alpineDigest());
        expect(pulled.repoDigests).toContain(`${proxy.host}/alpine@${pulled.digest}`);
        await docker.removeImage(reference);

        await docker.logout(proxy.host);
        const message = await failure(docker.pull(reference));
        expect(cliPart(message)).toMatch(REFUSED);
      });

      it("pulls `alpine:3` from the mirror with the proxy's user stored as the Docker Hub login", async () => {
        await docker.setHubCredentials(USER);
        try {
          const pulled = await docker.pull("alpine:3");
          expect(pulled.digest).toBe(alpineDigest());
          expect(pulled.repoDigests).toContain(`alpine@${pulled.digest}`);
          await docker.removeImage("alpine:3");
        } finally {
          await docker.setHubCredentials(undefined);
        }
      });

      it("does not pull `alpine:3` from the mirror without the Docker Hub login", async () => {
        // The daemon falls back to docker.io (unreachable), so the CLI reports that failure; the
        // daemon's log tail says why it gave up the mirror. Only a mirror pull asks for
        // library/alpine (a prefixed pull of `<proxy>/alpine` asks for alpine).
        const message = await failure(docker.pull("alpine:3"));
        expect(cliPart(message)).toMatch(/registry-1\.docker\.io/);
        expect(message).toMatch(
          new RegExp(
            `next endpoint[^\\n]*${escape(proxy.host)}/v2/library/alpine/manifests/3[\\\\"]*: (?:${REFUSED.source})`,
            "i",
          ),
        );
      });
    });

    describe.skipIf(skipPodman)(
      "podman (the locked proxy as registries.conf mirror of docker.io)",
      () => {
        let podman: Podman;

        beforeAll(async () => {
          if (missingPodman) throw new Error(missingPodman);
          podman = await startPodman({
            workDir: join(temp.path, "podman"),
            mirrors: { "docker.io": proxy.host },
          });
        });
        afterAll(async () => {
          await podman?.stop();
        });

        /** containers/image names each mirror's error ("Mirrors also failed: [...]") before docker.io's. */
        const mirrorRefused = () =>
          new RegExp(`${escape(proxy.host)}/library/alpine:3: [^\\n]*(?:${REFUSED.source})`, "i");

        it("does not pull through the mirror without `podman login <proxy>`", async () => {
          const message = await failure(podman.pull("alpine:3"));
          expect(message).toMatch(mirrorRefused());
        });

        it("pulls `alpine:3` through the mirror after `podman login <proxy>`, and not after `podman logout`", async () => {
          await podman.login(proxy.host, USER);
          const pulled = await podman.pull("alpine:3");
          expect(pulled.digest).toBe(alpineDigest());
          expect(pulled.repoDigests).toContain(`docker.io/library/alpine@${pulled.digest}`);

          await podman.logout(proxy.host);
          const message = await failure(podman.pull("alpine:3"));
          expect(message).toMatch(mirrorRefused());
        });
      },
    );
  },
);
