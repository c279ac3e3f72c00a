/** Parsing and writing `WWW-Authenticate` challenges (RFC 7235 §2.1, Docker token auth spec). */

/** One challenge: a scheme and its parameters (names lower-cased, values unquoted). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses a `WWW-Authenticate` value that may hold several challenges, such as quay.io's
 * `Basic realm="x", Bearer realm="y",service="z"`. Quoted strings may contain commas and
 * backslash escapes; parameters may come in any order. Malformed tails are dropped, not thrown.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  const n = header.length;

  const skipSpace = () => {
    while (i < n && (header[i] === " " || header[i] === "\t")) i++;
  };
  const readToken = () => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  const readQuoted = () => {
    let value = "";
    i++; // opening quote
    while (i < n && header[i] !== '"') {
      if (header[i] === "\\" && i + 1 < n) i++;
      value += header[i];
      i++;
    }
    i++; // closing quote (or end)
    return value;
  };

  while (i < n) {
    skipSpace();
    if (header[i] === ",") {
      i++;
      continue;
    }
    const scheme = readToken();
    if (!scheme) break; // not a token: give up on the rest
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);

    // Parameters: name=value pairs separated by commas, until the next scheme starts.
    for (;;) {
      skipSpace();
      const mark = i;
      const name = readToken();
      skipSpace();
      if (!name || header[i] !== "=") {
        i = mark; // the next challenge's scheme (or junk): leave it to the outer loop
        break;
      }
      i++; // "="
      skipSpace();
      const value = header[i] === '"' ? readQuoted() : readToken();
      challenge.params[name.toLowerCase()] = value;
      skipSpace();
      if (header[i] === ",") i++;
    }
  }
  return challenges;
}

/** The first Bearer challenge in a header, if any. */
export function findBearer(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  return parseChallenges(header).find((c) => c.scheme === "bearer");
}

/** Writes a challenge, quoting every value (RFC 7230 quoted-string). */
export function formatChallenge(
  scheme: string,
  params: Record<string, string | undefined>,
): string {
  const parts = Object.entries(params)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${name}="${value.replace(/["\\]/g, "\\$&")}"`);
  return parts.length ? `${scheme} ${parts.join(",")}` : scheme;
}
