/** Byte ranges (RFC 9110 §14.2) as registry clients resume blobs: `bytes=N-` or `bytes=N-M`. */

/** A single range: `length` is absent for "to the end". */
export interface ByteRange {
  offset: number;
  length?: number;
}

/**
 * Parses the one form registry clients send. Anything else (several ranges, other units,
 * nonsense) is undefined: the proxy then ignores the header and serves the whole body, as HTTP allows.
 */
export function parseRange(header: string | null): ByteRange | undefined {
  const m = header ? /^bytes=(\d{1,15})-(\d{0,15})$/.exec(header.trim()) : null;
  if (!m) return undefined;
  const offset = Number(m[1]);
  if (!m[2]) return { offset };
  const end = Number(m[2]);
  return end >= offset ? { offset, length: end - offset + 1 } : undefined;
}

/** The canonical header for a parsed range. */
function formatRange({ offset, length }: ByteRange): string {
  return `bytes=${offset}-${length === undefined ? "" : offset + length - 1}`;
}

/** The client's Range header if it is one the proxy passes on, in canonical form; else null. */
export function usableRange(header: string | null): string | null {
  const range = parseRange(header);
  return range ? formatRange(range) : null;
}
