// A client that hangs up mid-blob (a whole GET or a Range, from a fast upstream or a slow one) leaves nothing half-stored in the proxy's R2 cache; a blob over CACHE_MAX_OBJECT_MB streams through whole and is never stored.
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { seededImage } from "./clients/common.mjs";
import { fetchCounts, resetCounts, seedImages } from "./fixture/control.mjs";
import { startProxy } from "./fixture/proxy.mjs";
import { registryFetch, tokenFor } from "./fixture/registry-http.mjs";
import { sha256Digest } from "./fixture/skopeo.mjs";
import { startSlowFront } from "./fixture/slow-front.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

const KiB = 1024;
const MiB = 1024 * KiB;
/** Bytes a client reads before it hangs up. */
const READ_BEFORE_ABORT = 300 * KiB;
/** Where the ranged request starts. */
const RANGE_START = 1 * MiB;
/** How long the test waits after a hang-up before it asks again ("a little"). */
const SETTLE_MS = 2_000;
/** The slow upstream's rate, and the size of its blobs: some seconds to read each. */
const SLOW_RATE = 1 * MiB;
const SLOW_BLOB = 4 * MiB;

/** What a client that hung up had seen. */
interface Aborted {
  status: number;
  xCache: string | undefined;
  contentLength: number;
  received: number;
}

/** A whole GET's answer: status, where it came from, and every byte. */
interface Answer {
  status: number;
  xCache: string | null;
  contentRange: string | null;
  contentLength: number;
  bytes: Buffer;
}

/**
 * A GET (optionally ranged) that reads `readBytes` of the body and then destroys the connection,
 * as a client that is killed or times out does.
 */
function abortedGet(
  url: string,
  token: string,
  { range, readBytes }: { range?: string; readBytes: number },
): Promise<Aborted> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const request = httpRequest(url, {
      headers: { authorization: `Bearer ${token}`, ...(range && { range }) },
    });
    request.once("error", (error) => {
      // The error our own destroy() raises is expected; anything before the response is not.
      if (!settled) reject(error);
    });
    request.once("response", (response) => {
      let received = 0;
      const done = () => {
        if (settled) return;
        settled = true;
        resolve({
          status: response.statusCode ?? 0,
          xCache: header(response.headers["x-cache"]),
          contentLength: Number(response.headers["content-length"]),
          received,
        });
      };
      response.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received >= readBytes && !settled) {
          request.destroy();
          done();
        }
      });
      response.once("end", done);
      response.once("error", done);
    });
    request.end();
  });
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function fullGet(url: string, token: string, range?: string): Promise<Answer> {
  const response = await registryFetch(url, { token, range });
  return {
    status: response.status,
    xCache: response.headers.get("x-cache"),
    contentRange: response.headers.get("content-range"),
    contentLength: Number(response.headers.get("content-length")),
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

/** Blob requests to one repository through one proxy, with the proxy's anonymous token. */
async function blobClient(proxyUrl: string, repository: string) {
  const { token } = await tokenFor(`${proxyUrl}/v2/`, `repository:${repository}:pull`);
  const url = (digest: string) => `${proxyUrl}/v2/${repository}/blobs/${digest}`;
  return {
    abort: (digest: string, range?: string) =>
      abortedGet(url(digest), token, { range, readBytes: READ_BEFORE_ABORT }),
    get: (digest: string, range?: string) => fullGet(url(digest), token, range),
    /**
     * GETs `digest` (with `range`) until the proxy answers from its cache; `check` every
     * answer, HIT or MISS. Resolves to the cache status of each answer.
     */
    async untilHit(digest: string, check: (answer: Answer) => void, range?: string) {
      const statuses: (string | null)[] = [];
      for (let attempt = 0; attempt < 20; attempt++) {
        const answer = await fullGet(url(digest), token, range);
        check(answer);
        statuses.push(answer.xCache);
        if (answer.xCache === "HIT") return statuses;
        await sleep(500);
      }
      throw new Error(`no HIT for ${digest} after ${statuses.length} GETs: ${statuses.join(", ")}`);
    },
  };
}

/** The checks for a whole blob: 200 and exactly its bytes. */
const wholeBlob = (digest: string) => (answer: Answer) => {
  expect(answer.status).toBe(200);
  expect(answer.xCache).toMatch(/^(HIT|MISS)$/);
  expect(answer.contentLength).toBe(answer.bytes.length);
  expect(sha256Digest(answer.bytes)).toBe(digest);
};

describe.skipIf(inject("e2eSkipReason"))("downloads cut short, and blobs too big to store", () => {
  const stack = inject("stack");
  let temp: TempDir;

  beforeAll(() => {
    temp = makeTempDir("cf-registry-proxy-aborted-");
  });
  afterAll(async () => {
    await temp?.remove();
  });

  describe("a client that hangs up mid-blob (the stack's proxy, R2 bound)", () => {
    const repository = "someuser/aborted";
    let layers: string[];
    let client: Awaited<ReturnType<typeof blobClient>>;

    beforeAll(async () => {
      // Big layers no other test pulls, so the proxy has none cached: over the proxy's 4 MiB
      // hashing limit, so they go to R2, which checks the sha256 as it stores them.
      const [image] = await seedImages(stack.controlUrl, [
        { registry: "hub", repository, tag: "1", layerSizes: [8 * MiB, 8 * MiB] },
      ]);
      layers = image!.layers;
      client = await blobClient(stack.proxy.url, repository);
    });

    it("a whole GET cut off after a few hundred KiB: then a HIT with exactly the right bytes, or a MISS", async () => {
      const digest = layers[0]!;
      const aborted = await client.abort(digest);
      expect(aborted.status).toBe(200);
      expect(aborted.xCache).toBe("MISS");
      // The connection went down mid-body.
      expect(aborted.received).toBeLessThan(aborted.contentLength);

      await sleep(SETTLE_MS);
      await resetCounts(stack.controlUrl);
      const again = await client.get(digest);
      const counts = await fetchCounts(stack.controlUrl);
      console.log(
        `after a hang-up at ${aborted.received} of ${aborted.contentLength} bytes: ${again.xCache}, upstream blob GETs ${counts.hub.blobGet}`,
      );
      wholeBlob(digest)(again);
      expect(again.bytes.length).toBe(aborted.contentLength);
      if (again.xCache === "HIT") expect(counts.hub.blobGet).toBe(0);

      // Whatever was stored is the whole blob: the cache serves it (at the latest after the full
      // GET above filled it), byte for byte.
      console.log(`then: ${(await client.untilHit(digest, wholeBlob(digest))).join(", ")}`);
    });

    it("a Range GET cut off midway: then the range again, right, from the cache or upstream", async () => {
      const digest = layers[1]!;
      const range = `bytes=${RANGE_START}-`;
      const aborted = await client.abort(digest, range);
      expect(aborted.status).toBe(206);
      expect(aborted.received).toBeLessThan(aborted.contentLength);

      await sleep(SETTLE_MS);
      const again = await client.get(digest, range);
      console.log(
        `after a ranged hang-up at ${aborted.received} of ${aborted.contentLength} bytes: ${again.xCache}`,
      );
      expect(again.status).toBe(206);
      expect(again.xCache).toMatch(/^(HIT|MISS)$/);

      // The whole blob, checked against its digest, is what every range is compared with.
      const whole = await client.get(digest);
      wholeBlob(digest)(whole);
      const size = whole.bytes.length;
      const expected = whole.bytes.subarray(RANGE_START);
      const checkRange = (answer: Answer) => {
        expect(answer.status).toBe(206);
        expect(answer.contentRange).toBe(`bytes ${RANGE_START}-${size - 1}/${size}`);
        expect(answer.contentLength).toBe(expected.length);
        expect(answer.bytes.equals(expected)).toBe(true);
      };
      checkRange(again);
      console.log(
        `then the range: ${(await client.untilHit(digest, checkRange, range)).join(", ")}`,
      );
    });
  });

  describe(`a client that hangs up while the proxy reads a slow upstream (${SLOW_RATE / MiB} MiB/s)`, () => {
    const repository = "someuser/aborted-slow";
    let proxy: Awaited<ReturnType<typeof startProxy>>;
    let slow: Awaited<ReturnType<typeof startSlowFront>>;
    let layers: string[];
    let client: Awaited<ReturnType<typeof blobClient>>;
    const transferMs = (SLOW_BLOB / SLOW_RATE) * 1000;

    beforeAll(async () => {
      const [image] = await seedImages(stack.controlUrl, [
        { registry: "hub", repository, tag: "1", layerSizes: [SLOW_BLOB, SLOW_BLOB] },
      ]);
      layers = image!.layers;
      slow = await startSlowFront({ target: stack.hub.url, bytesPerSecond: SLOW_RATE });
      proxy = await startProxy({
        dir: join(temp.path, "proxy-slow-upstream"),
        upstreams: { docker: slow.url },
        cacheBucket: true,
      });
      client = await blobClient(proxy.url, repository);
    });
    afterAll(async () => {
      await proxy?.stop();
      await slow?.stop();
    });

    it("after the upstream had time to finish: a HIT with exactly the right bytes, or a MISS", async () => {
      const digest = layers[0]!;
      const aborted = await client.abort(digest);
      expect(aborted.status).toBe(200);
      expect(aborted.received).toBeLessThan(aborted.contentLength);

      await sleep(transferMs + SETTLE_MS);
      await resetCounts(stack.controlUrl);
      const again = await client.get(digest);
      const counts = await fetchCounts(stack.controlUrl);
      console.log(
        `slow upstream, ${transferMs + SETTLE_MS} ms after a hang-up at ${aborted.received} bytes: ${again.xCache}, upstream blob GETs ${counts.hub.blobGet}`,
      );
      wholeBlob(digest)(again);
      if (again.xCache === "HIT") expect(counts.hub.blobGet).toBe(0);
      console.log(`then: ${(await client.untilHit(digest, wholeBlob(digest))).join(", ")}`);
    });

    it("at once, while the first copy is still going into R2: right bytes, then one good copy", async () => {
      const digest = layers[1]!;
      const aborted = await client.abort(digest);
      expect(aborted.status).toBe(200);
      expect(aborted.received).toBeLessThan(aborted.contentLength);

      // A second client asks at once: the first store is still reading the upstream, and this
      // GET may start a second store of the same blob beside it.
      const again = await client.get(digest);
      console.log(`slow upstream, straight after a hang-up: ${again.xCache}`);
      wholeBlob(digest)(again);
      console.log(`then: ${(await client.untilHit(digest, wholeBlob(digest))).join(", ")}`);
    });
  });

  describe("without R2: a body up to 4 MiB is hashed as it streams into the Cache API", () => {
    const repository = "someuser/aborted-cache-api";
    let proxy: Awaited<ReturnType<typeof startProxy>>;
    let slow: Awaited<ReturnType<typeof startSlowFront>>;
    let layers: string[];
    let client: Awaited<ReturnType<typeof blobClient>>;
    const size = 3 * MiB;
    const transferMs = (size / SLOW_RATE) * 1000;

    beforeAll(async () => {
      const [image] = await seedImages(stack.controlUrl, [
        { registry: "hub", repository, tag: "1", layerSizes: [size] },
      ]);
      layers = image!.layers;
      slow = await startSlowFront({ target: stack.hub.url, bytesPerSecond: SLOW_RATE });
      proxy = await startProxy({
        dir: join(temp.path, "proxy-cache-api"),
        upstreams: { docker: slow.url },
      });
      client = await blobClient(proxy.url, repository);
    });
    afterAll(async () => {
      await proxy?.stop();
      await slow?.stop();
    });

    it("a hang-up from a slow upstream: then a HIT with exactly the right bytes, or a MISS", async () => {
      const digest = layers[0]!;
      const aborted = await client.abort(digest);
      expect(aborted.status).toBe(200);
      expect(aborted.received).toBeLessThan(aborted.contentLength);

      await sleep(transferMs + SETTLE_MS);
      const again = await client.get(digest);
      console.log(
        `Cache API, ${transferMs + SETTLE_MS} ms after a hang-up at ${aborted.received} bytes: ${again.xCache}`,
      );
      wholeBlob(digest)(again);
      console.log(`then: ${(await client.untilHit(digest, wholeBlob(digest))).join(", ")}`);
    });
  });

  describe("a blob larger than CACHE_MAX_OBJECT_MB", () => {
    let proxy: Awaited<ReturnType<typeof startProxy>>;
    let client: Awaited<ReturnType<typeof blobClient>>;
    const cached = () => seededImage(stack.images, "hub", "someuser/cached");

    beforeAll(async () => {
      proxy = await startProxy({
        dir: join(temp.path, "proxy-small-objects"),
        upstreams: { docker: stack.hub.url },
        cacheBucket: true,
        vars: { CACHE_MAX_OBJECT_MB: "1" },
      });
      client = await blobClient(proxy.url, "someuser/cached");
    });
    afterAll(async () => {
      await proxy?.stop();
    });

    it("streams a 6 MiB layer whole through a proxy that stores at most 1 MiB, and never stores it", async () => {
      const [big] = cached().layers as [string, string];
      for (const attempt of [1, 2]) {
        await resetCounts(stack.controlUrl);
        const answer = await client.get(big);
        const counts = await fetchCounts(stack.controlUrl);
        wholeBlob(big)(answer);
        expect(answer.bytes.length, `GET ${attempt}`).toBeGreaterThan(6 * MiB);
        expect(answer.xCache, `GET ${attempt}`).toBe("MISS");
        expect(counts.hub.blobGet, `GET ${attempt}`).toBe(1);
        // Time for a background store to finish, had one begun.
        if (attempt === 1) await sleep(SETTLE_MS);
      }
    });

    it("still stores the image's small layer (32 KiB)", async () => {
      const [, small] = cached().layers as [string, string];
      const statuses = await client.untilHit(small, wholeBlob(small));
      expect(statuses[0]).toBe("MISS");
    });
  });
});
