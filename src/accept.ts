/** Content negotiation for manifests (RFC 9110 §12.5.1, as registry clients send `Accept`). */

/**
 * True when an `Accept` header admits `mediaType`: listed with a non-zero q, or covered by `*\/*`
 * or `type/*`. No `Accept` at all admits nothing in particular: registries then pick a
 * representation themselves (quay.io and mcr.microsoft.com fall back to schema 1), so only the
 * upstream may answer such a client.
 */
export function accepts(accept: string | null, mediaType: string): boolean {
  if (!accept) return false;
  const wanted = mediaType.split(";", 1)[0]!.trim().toLowerCase();
  const type = wanted.split("/", 1)[0];
  return accept.split(",").some((entry) => {
    const [range, ...params] = entry.split(";").map((part) => part.trim().toLowerCase());
    const q = params.find((p) => p.startsWith("q="));
    if (q && Number(q.slice(2)) === 0) return false;
    return range === wanted || range === "*/*" || range === `${type}/*`;
  });
}
