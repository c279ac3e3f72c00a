// An in-memory Cache API backend for plain workerd (its `cacheApiOutbound`), speaking miniflare's cache protocol: GET matches, PUT stores a serialized HTTP response, PURGE deletes.
import { createServer } from "node:http";
import { HOST, closeServer, listen } from "../test/e2e/fixture/net.mjs";

/**
 * @typedef {object} CacheCounts
 * @property {number} hits
 * @property {number} misses
 * @property {number} puts  responses stored
 * @property {number} refused  PUTs not stored (too big, unparsable)
 *
 * @typedef {object} CacheService
 * @property {string} address  127.0.0.1:PORT, for the workerd config's external service
 * @property {() => CacheCounts} counts
 * @property {() => void} resetCounts
 * @property {() => Promise<void>} stop
 *
 * @typedef {{ status: number, headers: [string, string][], body: Buffer }} Entry
 */

/**
 * Starts the cache. Entries never expire (a benchmark run is short); Range is ignored (a full 200).
 * @param {{ maxBytes?: number }} [options]  total body bytes kept; PUTs beyond it are refused
 * @returns {Promise<CacheService>}
 */
export async function startCacheService({ maxBytes = 64 * 1024 * 1024 } = {}) {
  /** @type {Map<string, Entry>} */
  const entries = new Map();
  let storedBytes = 0;
  let counts = zeroCounts();

  const server = createServer(async (req, res) => {
    const key = `${req.headers.host ?? ""}${req.url ?? "/"}`;
    try {
      if (req.method === "GET" || req.method === "HEAD") {
        const entry = entries.get(key);
        if (!entry) {
          counts.misses++;
          res.writeHead(504, { "cf-cache-status": "MISS" }).end();
          return;
        }
        counts.hits++;
        res.writeHead(entry.status, [...entry.headers.flat(), "cf-cache-status", "HIT"]);
        res.end(req.method === "GET" ? entry.body : undefined);
      } else if (req.method === "PUT") {
        const entry = parseHttpResponse(await readAll(req));
        const old = entries.get(key);
        if (!entry || storedBytes - (old?.body.length ?? 0) + entry.body.length > maxBytes) {
          counts.refused++;
          res.writeHead(413).end();
          return;
        }
        storedBytes += entry.body.length - (old?.body.length ?? 0);
        entries.set(key, entry);
        counts.puts++;
        res.writeHead(204).end();
      } else if (req.method === "PURGE") {
        const old = entries.get(key);
        if (old) storedBytes -= old.body.length;
        res.writeHead(entries.delete(key) ? 200 : 404).end();
      } else {
        res.writeHead(405).end();
      }
    } catch (error) {
      if (!res.headersSent) res.writeHead(500).end(String(error));
      else res.destroy();
    }
  });
  const port = await listen(server);
  return {
    address: `${HOST}:${port}`,
    counts: () => ({ ...counts }),
    resetCounts: () => void (counts = zeroCounts()),
    stop: () => closeServer(server),
  };
}

/** @returns {CacheCounts} */
function zeroCounts() {
  return { hits: 0, misses: 0, puts: 0, refused: 0 };
}

/**
 * @param {import("node:http").IncomingMessage} req
 * @returns {Promise<Buffer>}
 */
async function readAll(req) {
  /** @type {Buffer[]} */
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Parses the `HTTP/1.1 200 OK\r\nheaders\r\n\r\nbody` that workerd sends with a cache PUT.
 * @param {Buffer} bytes
 * @returns {Entry | undefined}
 */
function parseHttpResponse(bytes) {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine, ...headerLines] = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const status = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(statusLine)?.[1];
  if (!status || /^transfer-encoding:/im.test(headerLines.join("\n"))) return undefined;
  /** @type {[string, string][]} */
  const headers = headerLines.map((line) => {
    const colon = line.indexOf(":");
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
  return { status: Number(status), headers, body: bytes.subarray(end + 4) };
}
