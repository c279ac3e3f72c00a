/** The one check for URLs the proxy may fetch from: http(s) only. */

/** The URL when `value` is an absolute http(s) URL (resolved against `base` if given); else undefined. */
export function parseHttpUrl(value: string, base?: string | URL): URL | undefined {
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    return undefined;
  }
  return url.protocol === "https:" || url.protocol === "http:" ? url : undefined;
}
