// `docker search <proxy>/<term>` with a real Docker daemon: Docker Hub's v1 search through the proxy (the Hub replica's `/v1/search`), open and locked with PROXY_USERS, and what the daemon sends on the way (`/v1/_ping` first).
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { missingClientReason } from "./clients/common.mjs";
import {
  DOCKER_APT,
  DOCKER_BINARIES,
  startDocker,
  type Docker,
  type DockerSearch,
} from "./clients/docker.mjs";
import { fetchCounts, resetCounts } from "./fixture/control.mjs";
import { startProxy } from "./fixture/proxy.mjs";
import { startRecordingFront, type RecordingFront } from "./fixture/recording-front.mjs";
import { SEARCH_CATALOGUE } from "./fixture/replicas/hub-search.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

const USER = "searcher:correct-horse";

const missingClient = missingClientReason("docker", DOCKER_BINARIES, DOCKER_APT);
// Locally a missing client skips this file (loudly); on CI the beforeAll below fails it instead.
const skip = inject("e2eSkipReason") || (missingClient && !process.env.CI);

/** The rows `docker search` prints for the catalogue entries whose name contains `term`. */
function expectedRows(term: string, automatedColumn: boolean) {
  return SEARCH_CATALOGUE.filter((entry) => entry.name.includes(term)).map((entry) => ({
    name: entry.name,
    stars: entry.star_count,
    official: entry.is_official,
    automated: automatedColumn ? entry.is_automated : undefined,
  }));
}

/** The message a failed client call threw; fails the test when the call succeeded. */
async function failure(call: Promise<unknown>): Promise<string> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error, "expected the command to fail").toBeInstanceOf(Error);
  return (error as Error).message;
}

describe.skipIf(skip)("docker search through the proxy", () => {
  const stack = inject("stack");
  let temp: TempDir;
  let docker: Docker;
  let locked: Awaited<ReturnType<typeof startProxy>>;
  /** Recording fronts before the open and the locked proxy: what the daemon sends. */
  let openFront: RecordingFront;
  let lockedFront: RecordingFront;

  beforeAll(async () => {
    if (missingClient) throw new Error(missingClient);
    temp = makeTempDir("cf-registry-proxy-search-");
    [docker, locked] = await Promise.all([
      // No mirror: `docker search <host>/<term>` asks <host> itself (127.0.0.0/8 is an insecure
      // registry by default, so plain http is allowed).
      startDocker({ workDir: join(temp.path, "docker") }),
      startProxy({
        dir: join(temp.path, "proxy"),
        upstreams: { docker: stack.hub.url },
        vars: { PROXY_USERS: USER },
      }),
    ]);
    openFront = await startRecordingFront({ target: stack.proxy.url });
    lockedFront = await startRecordingFront({ target: locked.url });
  });
  afterAll(async () => {
    await openFront?.stop();
    await lockedFront?.stop();
    await docker?.stop();
    await locked?.stop();
    await temp?.remove();
  });

  /**
   * Checks the table `docker search` printed against the catalogue's entries for `term` (the
   * first `count`), in Docker Hub's order: most stars first.
   */
  const expectRows = (search: DockerSearch, term: string, count?: number) => {
    const automatedColumn = search.rows.some((row) => row.automated !== undefined);
    expect(
      search.rows.map(({ name, stars, official, automated }) => ({
        name,
        stars,
        official,
        automated,
      })),
    ).toEqual(expectedRows(term, automatedColumn).slice(0, count));
  };

  it("`docker search <proxy>/nginx` prints Docker Hub's results", async () => {
    await resetCounts(stack.controlUrl);
    const search = await docker.search(`${stack.proxy.host}/nginx`);
    const counts = await fetchCounts(stack.controlUrl);
    console.log(`docker search ${stack.proxy.host}/nginx:\n${search.output}`);
    expectRows(search, "nginx");
    expect(search.rows.find((row) => row.name === "nginx")?.description).toBe(
      "Official build of Nginx.",
    );
    // One search request upstream (at the Hub replica, where UPSTREAMS moved `docker`), nothing else.
    expect(counts.hub).toMatchObject({ total: 1, other: 1 });
  });

  it("`docker search --limit 5 <proxy>/nginx` prints the first five", async () => {
    const search = await docker.search(`${stack.proxy.host}/nginx`, { limit: 5 });
    expectRows(search, "nginx", 5);
  });

  it("pings `/v1/_ping` first, which the proxy does not serve, and searches anyway", async () => {
    openFront.clear();
    const search = await docker.search(`${openFront.host}/nginx`, { limit: 5 });
    expectRows(search, "nginx", 5);
    const seen = openFront.requests();
    console.log(`what dockerd sent to the open proxy: ${JSON.stringify(seen)}`);
    // https:// is tried first and refused at the TLS hello (never reaching the recorder as a
    // request); then over http: the v1 ping, then the search with the limit as `n`.
    expect(seen.map(({ method, url }) => `${method} ${url}`)).toEqual([
      "GET /v1/_ping",
      "GET /v1/search?q=nginx&n=5",
    ]);
    expect(seen.map((request) => request.authorization)).toEqual([undefined, undefined]);
    expect(seen.map((request) => request.status)).toEqual([404, 200]);

    // The proxy's answer to the ping: its OCI NOT_FOUND. Docker's v1 ping only needs an HTTP
    // answer (a JSON body and X-Docker-Registry-* headers are optional).
    const ping = await fetch(`${stack.proxy.url}/v1/_ping`);
    expect(ping.status).toBe(404);
    expect(await ping.json()).toMatchObject({ errors: [{ code: "NOT_FOUND" }] });
  });

  describe("against a proxy locked with PROXY_USERS", () => {
    it("refuses `docker search` without `docker login <proxy>`, asking no upstream", async () => {
      await resetCounts(stack.controlUrl);
      const message = await failure(docker.search(`${locked.host}/nginx`));
      const counts = await fetchCounts(stack.controlUrl);
      console.log(`docker search without a login: ${message.split("\n--- dockerd log")[0]}`);
      // The daemon reports the proxy's status (it has no better word for a v1 refusal).
      expect(message).toMatch(/Unexpected status code 401/);
      expect(counts.hub.total).toBe(0);
    });

    it("searches after `docker login <proxy>`, and not after `docker logout`", async () => {
      await docker.login(locked.host, USER);
      const search = await docker.search(`${locked.host}/nginx`, { limit: 5 });
      expectRows(search, "nginx", 5);

      await docker.logout(locked.host);
      const message = await failure(docker.search(`${locked.host}/nginx`));
      expect(message).toMatch(/Unexpected status code 401/);
    });

    it("gets the stored login as Basic on `/v1/search`; the ping goes without, and is refused", async () => {
      await docker.login(lockedFront.host, USER);
      lockedFront.clear();
      try {
        const search = await docker.search(`${lockedFront.host}/nginx`);
        expectRows(search, "nginx");
      } finally {
        await docker.logout(lockedFront.host);
      }
      const seen = lockedFront.requests();
      console.log(`what dockerd sent to the locked proxy: ${JSON.stringify(seen)}`);
      expect(
        seen.map(({ method, url, authorization, status }) => ({
          request: `${method} ${url}`,
          authorization,
          status,
        })),
      ).toEqual([
        { request: "GET /v1/_ping", authorization: undefined, status: 401 },
        { request: "GET /v1/search?q=nginx&n=25", authorization: "Basic", status: 200 },
      ]);
    });
  });
});
