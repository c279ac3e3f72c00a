// Renders the benchmark's one markdown table (measured value, target, ✓/✗) and the machine description above it.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";

/**
 * @typedef {object} Row
 * @property {string} group  e.g. "Blob throughput"
 * @property {string} metric
 * @property {string} measured
 * @property {string} [target]  human-readable, e.g. "≥ 0.9"; none: informational
 * @property {boolean} [met]  whether the target is met (only with a target)
 */

/**
 * A one-line description of this machine and toolchain.
 * @param {{ workerdVersion: string }} versions
 * @returns {string}
 */
export function describeMachine({ workerdVersion }) {
  let cpu = cpus()[0]?.model?.trim() || "unknown CPU";
  try {
    const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (model) cpu = model[1].trim();
  } catch {
    // not Linux: keep what os.cpus() says
  }
  const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  return `${cpu}, ${cpus().length} cores, Node ${process.version}, ${workerdVersion}, ${date}`;
}

/**
 * The rows as a markdown table.
 * @param {Row[]} rows
 * @returns {string}
 */
export function markdownTable(rows) {
  const lines = ["| | Metric | Measured | Target | |", "|---|---|---|---|---|"];
  let group = "";
  for (const row of rows) {
    const groupCell = row.group === group ? "" : `**${row.group}**`;
    group = row.group;
    const verdict = row.target === undefined ? "" : row.met ? "✓" : "✗";
    lines.push(
      `| ${groupCell} | ${row.metric} | ${row.measured} | ${row.target ?? "—"} | ${verdict} |`,
    );
  }
  return lines.join("\n");
}

/**
 * The whole report: title, machine, settings, the table, and notes.
 * @param {{ machine: string, settings: string, rows: Row[], notes: string[] }} report
 * @returns {string}
 */
export function renderReport({ machine, settings, rows, notes }) {
  const parts = [
    "## Benchmark",
    "",
    `Machine: ${machine}`,
    "",
    `Settings: ${settings}`,
    "",
    markdownTable(rows),
  ];
  if (notes.length) parts.push("", ...notes.map((note) => `- ${note}`));
  return parts.join("\n") + "\n";
}
