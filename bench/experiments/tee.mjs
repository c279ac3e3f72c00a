// `node bench/experiments/tee.mjs`: does workerd's ReadableStream.tee() buffer the faster branch's data when the other branch is slow, or move in lockstep with the slower one? And does a background branch still get its data when the client goes away?
// Each case runs in a fresh plain `workerd serve` (tee-worker.mjs) against a local server that generates the body; a slow client reads branch A while branch B is consumed as the mode says. Prints a markdown report.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "../../test/e2e/fixture/tempdir.mjs";
import { startBlobServer } from "../blob-source.mjs";
import { download } from "../client.mjs";
import { MiB, fixed, now } from "../stats.mjs";
import { startMiniflare } from "../miniflare.mjs";
import { readRss, readWranglerSettings, startWorkerd } from "../workerd.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const SIZE = envNumber("TEE_MIB", 1024) * MiB;
const CLIENT_RATE = envNumber("TEE_CLIENT_MIBPS", 32);
const CUT_AFTER = envNumber("TEE_CUT_MIB", 64) * MiB;
const MODES = (process.env.TEE_MODES ?? "none,digest,upload,fixed-upload,js-read,js-transform")
  .split(",")
  .filter(Boolean);
/** slow: the client reads CLIENT_RATE; cut: it leaves after CUT_AFTER; fast: it reads as fast as it can. */
const CASES = (process.env.TEE_CASES ?? "slow,cut").split(",").filter(Boolean);
const SLOW_SINK = envNumber("TEE_SLOW_SINK_MIBPS", 20);
/** workerd (plain `workerd serve`) or miniflare (with an R2 bucket bound, for the r2 modes). */
const RUNTIME = process.env.TEE_RUNTIME ?? "workerd";

/** @param {string} message */
const log = (message) => process.stderr.write(`${message}\n`);

/**
 * @param {string} name
 * @param {number} fallback
 */
function envNumber(name, fallback) {
  const value = Number(process.env[name] || fallback);
  if (!(value > 0)) throw new Error(`${name} must be a positive number`);
  return value;
}

/**
 * @typedef {{ id: string, mode: string, ms: number, outcome: "done" | "error", bytes?: number, digest?: string, error?: string }} Report
 *
 * @typedef {object} CaseResult
 * @property {string} mode
 * @property {string} kind  slow: the client reads everything at CLIENT_RATE; cut: it goes away after CUT_AFTER bytes; fast: it reads as fast as it can
 * @property {number} clientBytes
 * @property {number} clientSeconds
 * @property {boolean | undefined} clientDigestOk
 * @property {string | undefined} clientError  the client's transfer failed (e.g. stalled)
 * @property {Report | undefined} report  how branch B ended (none for mode none)
 * @property {boolean | undefined} branchComplete  branch B saw every byte (by digest or count)
 * @property {number} peakGrowth  workerd RSS peak minus its RSS before the request
 * @property {number | undefined} growthWhenBranchDone  RSS growth at the moment branch B finished
 * @property {number} endGrowth  RSS growth once everything finished
 * @property {{ t: number, rss: number }[]} series  seconds since the request, RSS growth
 */

async function main() {
  const temp = makeTempDir("cf-registry-proxy-tee-");
  /** @type {Map<string, (report: Report) => void>} */
  const waiting = new Map();
  /** @type {Map<string, Report>} */
  const reports = new Map();
  const source = await startBlobServer({
    size: SIZE,
    onReport: (/** @type {Report} */ report) => {
      reports.set(report.id, report);
      waiting.get(report.id)?.(report);
    },
  });
  log(`Source: ${SIZE / MiB} MiB generated body at ${source.url}, digest ${source.digest}`);
  const settings = readWranglerSettings();
  /** @type {CaseResult[]} */
  const results = [];
  try {
    for (const kind of CASES) {
      for (const mode of MODES) {
        if (kind === "cut" && (mode === "none" || mode === "r2-alone")) continue;
        const id = `${mode}-${kind}`;
        const options = {
          dir: join(temp.path, id),
          name: `tee ${id}`,
          modulePath: join(HERE, "tee-worker.mjs"),
          settings,
          bindings: { SOURCE: source.url, SLOW_SINK_MIBPS: String(SLOW_SINK) },
        };
        const workerd =
          RUNTIME === "miniflare"
            ? await startMiniflare({ ...options, cacheBucket: true })
            : await startWorkerd(options);
        try {
          /** @type {Promise<Report | undefined>} */
          const reported =
            mode === "none" || mode === "r2-alone"
              ? Promise.resolve(undefined)
              : new Promise((resolve) => {
                  waiting.set(id, resolve);
                  setTimeout(() => resolve(undefined), 180_000);
                });
          const baseline = readRss(workerd.pid);
          const started = now();
          /** @type {{ t: number, rss: number }[]} */
          const series = [];
          let clientBytes = 0;
          let branchDoneAt = NaN;
          reported.then(() => (branchDoneAt = (now() - started) / 1000));
          const sample = () =>
            series.push({ t: (now() - started) / 1000, rss: readRss(workerd.pid) - baseline });
          const timer = setInterval(sample, 100);
          /** @type {string | undefined} */
          let clientError;
          const transfer = await download(`${workerd.url}/tee?mode=${mode}&id=${id}`, {
            hash: kind !== "cut",
            ...(kind !== "fast" && { mibPerSecond: CLIENT_RATE }),
            ...(kind === "cut" && { cutAfterBytes: CUT_AFTER }),
            idleTimeoutMs: 60_000,
            onProgress: (bytes) => (clientBytes = bytes),
          }).catch((error) => {
            clientError = String(error);
            return { bytes: clientBytes, ms: now() - started, digest: undefined };
          });
          const report = await reported;
          // Let memory settle a moment after the last byte.
          await new Promise((resolve) => setTimeout(resolve, 500));
          sample();
          clearInterval(timer);
          const atBranchDone = series.filter((s) => s.t <= branchDoneAt).at(-1)?.rss;
          const result = {
            mode,
            kind,
            clientBytes: transfer.bytes,
            clientSeconds: transfer.ms / 1000,
            clientDigestOk:
              kind !== "cut" && mode !== "r2-alone" ? transfer.digest === source.digest : undefined,
            clientError,
            report,
            branchComplete: report
              ? report.outcome === "done" &&
                (report.digest === undefined || report.digest === source.digest) &&
                (report.bytes === undefined || report.bytes === SIZE)
              : undefined,
            peakGrowth: Math.max(...series.map((s) => s.rss)),
            growthWhenBranchDone: atBranchDone,
            endGrowth: series.at(-1)?.rss ?? NaN,
            series,
          };
          results.push(result);
          log(
            `${id}: client ${fixed(transfer.bytes / MiB)} MiB${clientError ? ` (${clientError})` : ""} in ${fixed(result.clientSeconds, 1)} s, branch B ${report ? `${report.outcome} after ${fixed(report.ms / 1000, 1)} s${report.error ? ` (${report.error})` : ""}` : "-"}, RSS peak +${fixed(result.peakGrowth / MiB)} MiB`,
          );
        } finally {
          waiting.delete(id);
          await workerd.stop();
        }
      }
    }
  } finally {
    await source.stop();
    await temp.remove();
  }
  process.stdout.write(render(results));
}

/**
 * @param {CaseResult[]} results
 * @returns {string}
 */
function render(results) {
  const lines = [
    `## ${RUNTIME === "miniflare" ? "miniflare" : "workerd"} ReadableStream.tee(): ${SIZE / MiB} MiB body, slow client at ${CLIENT_RATE} MiB/s, slow sink at ${SLOW_SINK} MiB/s`,
    "",
    "| case | branch B | client got | client time | branch B ended | B complete | workerd RSS peak growth | growth when B ended | growth at end |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    const b = r.report;
    lines.push(
      `| ${r.kind === "slow" ? "slow client, reads all" : r.kind === "fast" ? "fast client, reads all" : `client leaves after ${CUT_AFTER / MiB} MiB`} | ${r.mode} | ${fixed(r.clientBytes / MiB)} MiB${r.clientError ? ` (failed: ${r.clientError})` : r.clientDigestOk === undefined ? "" : r.clientDigestOk ? " ✓ digest" : " ✗ DIGEST"} | ${fixed(r.clientSeconds, 1)} s | ${b ? `${b.outcome} at ${fixed(b.ms / 1000, 1)} s${b.error ? `: ${b.error}` : ""}` : r.mode === "none" ? "—" : "no report (180 s)"} | ${r.branchComplete === undefined ? "—" : r.branchComplete ? "yes" : "no"} | ${fixed(r.peakGrowth / MiB)} MiB | ${r.growthWhenBranchDone === undefined ? "—" : `${fixed(r.growthWhenBranchDone / MiB)} MiB`} | ${fixed(r.endGrowth / MiB)} MiB |`,
    );
  }
  lines.push("", "RSS growth over time (s: MiB), every ~10% of each case:", "");
  for (const r of results) {
    const step = Math.max(1, Math.floor(r.series.length / 10));
    const points = r.series.filter((_, i) => i % step === 0 || i === r.series.length - 1);
    lines.push(
      `- ${r.mode}, ${r.kind}: ${points.map((p) => `${fixed(p.t, 1)}: ${fixed(p.rss / MiB)}`).join(", ")}`,
    );
  }
  return lines.join("\n") + "\n";
}

await main();
