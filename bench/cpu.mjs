// CPU time per request: the workerd process's utime+stime over a few hundred small manifest and blob HEAD/GET requests, proxy and pass-through in turn.
import { Agent, request } from "node:http";
import { readCpuMicros } from "./workerd.mjs";
import { median } from "./stats.mjs";

/**
 * @typedef {{ method: "GET" | "HEAD", url: string, headers?: Record<string, string> }} BenchRequest
 *
 * @typedef {object} CpuTarget
 * @property {string} name
 * @property {number} pid  the workerd process serving `requests`
 * @property {BenchRequest[]} requests  the mix, sent in order, over and over
 *
 * @typedef {object} CpuResult
 * @property {string} name
 * @property {number[]} microsPerRequest  one per round
 * @property {number} medianMicrosPerRequest
 * @property {number} failures  answers that were not 2xx
 */

/**
 * Sends `count` requests (sequentially, one keep-alive connection) to each target in turn, per
 * round, after one untimed pass of the mix; CPU time is the process's delta over the round.
 * @param {{ targets: CpuTarget[], count: number, rounds: number, log?: (message: string) => void }} options
 * @returns {Promise<CpuResult[]>}
 */
export async function measureCpuPerRequest({ targets, count, rounds, log = () => {} }) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const results = targets.map((target) => ({
      target,
      /** @type {number[]} */ microsPerRequest: [],
      failures: 0,
    }));
    for (const entry of results) {
      for (const req of entry.target.requests) {
        if (!isOk(await send(agent, req)))
          throw new Error(`${entry.target.name}: ${describe(req)} failed`);
      }
    }
    for (let round = 1; round <= rounds; round++) {
      for (const entry of results) {
        const { pid, requests } = entry.target;
        const before = readCpuMicros(pid);
        for (let i = 0; i < count; i++) {
          if (!isOk(await send(agent, requests[i % requests.length]))) entry.failures++;
        }
        const micros = (readCpuMicros(pid) - before) / count;
        entry.microsPerRequest.push(micros);
        log(`  round ${round}: ${entry.target.name} ${micros.toFixed(0)} µs/request`);
      }
    }
    return results.map(({ target, microsPerRequest, failures }) => ({
      name: target.name,
      microsPerRequest,
      medianMicrosPerRequest: median(microsPerRequest),
      failures,
    }));
  } finally {
    agent.destroy();
  }
}

/** @param {number} status */
function isOk(status) {
  return status >= 200 && status < 300;
}

/** @param {BenchRequest} req */
function describe(req) {
  return `${req.method} ${req.url}`;
}

/**
 * Sends one request and drains the answer.
 * @param {Agent} agent
 * @param {BenchRequest} req
 * @returns {Promise<number>} the status
 */
function send(agent, { method, url, headers = {} }) {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method, headers, agent }, (res) => {
      res.resume();
      res.once("error", reject);
      res.once("end", () => resolve(res.statusCode ?? 0));
    });
    outgoing.setTimeout(30_000, () => outgoing.destroy(new Error(`${method} ${url}: timed out`)));
    outgoing.once("error", reject);
    outgoing.end();
  });
}
