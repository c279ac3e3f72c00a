// Small statistics and unit helpers for the benchmark: medians (never means), MiB, formatting.

export const MiB = 1024 * 1024;
export const KiB = 1024;

/**
 * The median of some numbers (the mean of the middle two for an even count); NaN for none.
 * @param {number[]} values
 * @returns {number}
 */
export function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Per-key medians of records that all have the same numeric keys (e.g. request counters).
 * @template {Record<string, number>} T
 * @param {T[]} records
 * @returns {T}
 */
export function medianRecord(records) {
  /** @type {Record<string, number>} */
  const result = {};
  for (const key of Object.keys(records[0] ?? {})) {
    result[key] = median(records.map((record) => record[key]));
  }
  return /** @type {T} */ (result);
}

/**
 * A number with a fixed count of decimals, or "n/a" when it is not finite.
 * @param {number} value
 * @param {number} [decimals]
 * @returns {string}
 */
export function fixed(value, decimals = 0) {
  return Number.isFinite(value) ? value.toFixed(decimals) : "n/a";
}

/** Milliseconds since an arbitrary origin, with sub-millisecond resolution. */
export function now() {
  return performance.now();
}
