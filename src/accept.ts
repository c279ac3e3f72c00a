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
  // The most specific range that matches decides (RFC 9110 §12.5.1): `x;q=0` beats `*/*`.
  let best = { specificity: 0, q: 0 };
  for (const entry of accept.split(",")) {
    const [range, ...params] = entry.split(";").map((part) => part.trim().toLowerCase());
    const specificity = range === wanted ? 3 : range === `${type}/*` ? 2 : range === "*/*" ? 1 : 0;
    if (specificity <= best.specificity) continue;
    const q = params.find((p) => p.startsWith("q="));
    best = { specificity, q: q ? Number(q.slice(2)) : 1 };
  }
  return best.q > 0;
}
