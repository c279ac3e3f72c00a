// Big deterministic blobs made fast and streamed: one random 1 MiB block, repeated with each copy's first 8 bytes set to its index (no two chunks alike), written to disk or served on the fly.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HOST, closeServer, listen } from "../test/e2e/fixture/net.mjs";
import { MiB } from "./stats.mjs";

const CHUNK = MiB;

/**
 * The blob's bytes as chunks of at most 1 MiB; the same `size` and `seed` always give the same bytes.
 * @param {number} size
 * @param {number} [seed]
 * @returns {Generator<Buffer>}
 */
export function* blobChunks(size, seed = 1) {
  const block = randomBlock(seed);
  for (let offset = 0, index = 0; offset < size; offset += CHUNK, index++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(CHUNK, size - offset)));
    if (chunk.length >= 8) chunk.writeBigUInt64LE(BigInt(index), 0);
    yield chunk;
  }
}

/**
 * sha256:<hex> of the blob, computed by generating it (about a second per GiB).
 * @param {number} size
 * @param {number} [seed]
 */
export function blobDigest(size, seed = 1) {
  const hash = createHash("sha256");
  for (const chunk of blobChunks(size, seed)) hash.update(chunk);
  return `sha256:${hash.digest("hex")}`;
}

/**
 * Writes the blob to a file, streamed, and returns its digest.
 * @param {string} path
 * @param {number} size
 * @param {number} [seed]
 * @returns {Promise<string>}
 */
export async function writeBlobFile(path, size, seed = 1) {
  await mkdir(dirname(path), { recursive: true });
  const hash = createHash("sha256");
  await pipeline(
    Readable.from(
      (function* () {
        for (const chunk of blobChunks(size, seed)) {
          hash.update(chunk);
          yield chunk;
        }
      })(),
    ),
    createWriteStream(path),
  );
  return `sha256:${hash.digest("hex")}`;
}

/**
 * @typedef {object} BlobServer
 * @property {string} url  http://127.0.0.1:PORT; GET /blob serves the blob
 * @property {number} size
 * @property {string} digest
 * @property {() => { blobGets: number, uploads: { bytes: number, digest: string }[] }} counts
 * @property {(report: unknown) => void} [onReport]
 * @property {() => Promise<void>} stop
 */

/**
 * Serves one generated blob (no disk) at GET /blob with its Content-Length; PUT or POST /sink
 * reads a body (as fast as it comes, or `?mibps=N`) and answers its length and digest; POST /report hands a JSON
 * body to `onReport` (a Worker telling how a background task ended).
 * @param {{ size: number, seed?: number, onReport?: (report: any) => void }} options
 * @returns {Promise<BlobServer>}
 */
export async function startBlobServer({ size, seed = 1, onReport = () => {} }) {
  const digest = blobDigest(size, seed);
  let blobGets = 0;
  /** @type {{ bytes: number, digest: string }[]} */
  const uploads = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const fail = (/** @type {unknown} */ error) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
      else res.destroy();
    };
    if (path === "/blob" && (req.method === "GET" || req.method === "HEAD")) {
      blobGets++;
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": String(size),
        "docker-content-digest": digest,
      });
      if (req.method === "HEAD") return void res.end();
      pipeline(Readable.from(blobChunks(size, seed)), res).catch(() => {
        // the client went away: nothing to do
      });
    } else if (path === "/sink" && (req.method === "PUT" || req.method === "POST")) {
      const hash = createHash("sha256");
      let bytes = 0;
      // ?mibps=N: read no faster than N MiB/s (a slow store).
      const rate = Number(new URL(req.url ?? "/", "http://x").searchParams.get("mibps")) || 0;
      const started = performance.now();
      req.on("data", (/** @type {Buffer} */ chunk) => {
        bytes += chunk.length;
        hash.update(chunk);
        const aheadMs = rate ? (bytes / (rate * MiB)) * 1000 - (performance.now() - started) : 0;
        if (aheadMs > 5) {
          req.pause();
          setTimeout(() => req.resume(), aheadMs);
        }
      });
      req.once("error", fail);
      req.once("end", () => {
        const upload = { bytes, digest: `sha256:${hash.digest("hex")}` };
        uploads.push(upload);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(upload));
      });
    } else if (path === "/report" && req.method === "POST") {
      /** @type {Buffer[]} */
      const parts = [];
      req.on("data", (/** @type {Buffer} */ chunk) => parts.push(chunk));
      req.once("error", fail);
      req.once("end", () => {
        try {
          onReport(JSON.parse(Buffer.concat(parts).toString("utf8")));
          res.writeHead(204).end();
        } catch (error) {
          fail(error);
        }
      });
    } else {
      res.writeHead(404).end();
    }
  });
  const port = await listen(server);
  return {
    url: `http://${HOST}:${port}`,
    size,
    digest,
    counts: () => ({ blobGets, uploads: [...uploads] }),
    stop: () => closeServer(server),
  };
}

/**
 * 1 MiB of seeded pseudo-random bytes: sha256 in counter mode.
 * @param {number} seed
 */
function randomBlock(seed) {
  const block = Buffer.alloc(CHUNK);
  for (let offset = 0, counter = 0; offset < CHUNK; offset += 32, counter++) {
    createHash("sha256").update(`${seed}:${counter}`).digest().copy(block, offset);
  }
  return block;
}
