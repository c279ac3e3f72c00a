// One HTTP GET as a benchmark client: reads the body fully (or up to a cut), optionally hashing it, optionally no faster than a set rate (a slow client).
import { createHash } from "node:crypto";
import { request } from "node:http";
import { MiB, now } from "./stats.mjs";

/**
 * @typedef {object} Transfer
 * @property {number} status
 * @property {number} bytes  body bytes received
 * @property {number} ms  from sending the request to the last byte (or to the cut)
 * @property {string} [digest]  sha256:<hex> of the body, when asked for
 * @property {string} cacheStatus  the X-Cache header, "none" without one
 * @property {Record<string, string | string[] | undefined>} headers
 *
 * @typedef {object} DownloadOptions
 * @property {boolean} [hash]  compute the body's sha256
 * @property {number} [mibPerSecond]  read no faster than this (pauses the socket; TCP pushes back)
 * @property {number} [cutAfterBytes]  destroy the connection once this many body bytes arrived (a client that goes away)
 * @property {Record<string, string>} [headers]
 * @property {number} [idleTimeoutMs]  fail when no data arrives for this long
 * @property {(bytes: number) => void} [onProgress]  told the body bytes received so far, after each chunk
 */

/**
 * GETs a URL on a fresh connection, reading the body and discarding it.
 * @param {string} url
 * @param {DownloadOptions} [options]
 * @returns {Promise<Transfer>}
 */
export function download(
  url,
  {
    hash = false,
    mibPerSecond,
    cutAfterBytes,
    headers = {},
    idleTimeoutMs = 60_000,
    onProgress,
  } = {},
) {
  return new Promise((resolve, reject) => {
    const started = now();
    let settled = false;
    /** @param {Error} error */
    const fail = (error) => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    const req = request(url, { agent: false, headers }, (res) => {
      const hasher = hash ? createHash("sha256") : undefined;
      let bytes = 0;
      /** @type {NodeJS.Timeout | undefined} */
      let resumeTimer;
      const finish = () => {
        clearTimeout(resumeTimer);
        if (settled) return;
        settled = true;
        resolve({
          status: res.statusCode ?? 0,
          bytes,
          ms: now() - started,
          cacheStatus: String(res.headers["x-cache"] ?? "none"),
          headers: res.headers,
          ...(hasher && { digest: `sha256:${hasher.digest("hex")}` }),
        });
      };
      res.on("data", (/** @type {Buffer} */ chunk) => {
        bytes += chunk.length;
        hasher?.update(chunk);
        onProgress?.(bytes);
        if (cutAfterBytes !== undefined && bytes >= cutAfterBytes) {
          res.removeAllListeners("data");
          req.destroy();
          finish();
          return;
        }
        if (mibPerSecond) {
          // Token bucket: when ahead of the allowed rate, stop reading until the schedule catches up.
          const aheadMs = (bytes / (mibPerSecond * MiB)) * 1000 - (now() - started);
          if (aheadMs > 5) {
            res.pause();
            resumeTimer = setTimeout(() => res.resume(), aheadMs);
          }
        }
      });
      res.once("error", fail);
      res.once("end", finish);
    });
    // A stalled transfer fails the run instead of hanging it.
    req.setTimeout(idleTimeoutMs, () =>
      req.destroy(new Error(`GET ${url}: no data for ${idleTimeoutMs / 1000} s`)),
    );
    req.once("error", fail);
    req.end();
  });
}
