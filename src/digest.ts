/** Content digests (OCI image-spec "Digests"): computing them, and checking bytes against one as they stream. */

const ALGORITHMS: ReadonlyMap<string, "SHA-256" | "SHA-512"> = new Map([
  ["sha256", "SHA-256"],
  ["sha512", "SHA-512"],
]);

/** Lower-case hex of bytes. */
function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let hex = "";
  for (const b of view) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/** `sha256:<hex>` of the given bytes or UTF-8 text. */
export async function sha256Digest(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return `sha256:${toHex(await crypto.subtle.digest("SHA-256", bytes))}`;
}

/**
 * A stream that passes bytes through while hashing them natively (`crypto.DigestStream`), and
 * holds the last chunk back until the end: only when the bytes are exactly `length` long and hash
 * to `digest` does that chunk go out and the stream close; otherwise it errors, one chunk short.
 * So whoever reads it (a Cache API put of a body whose Content-Length is `length`) never sees a
 * complete body that does not match. Undefined for an algorithm the runtime cannot compute.
 */
export function verifyingStream(
  digest: string,
  length: number,
): TransformStream<Uint8Array, Uint8Array> | undefined {
  const [algorithm, expected] = digest.split(":", 2) as [string, string];
  const name = ALGORITHMS.get(algorithm);
  if (!name) return undefined;
  const hasher = new crypto.DigestStream(name);
  const writer = hasher.getWriter();
  let seen = 0;
  let held: Uint8Array | undefined;
  return new TransformStream({
    async transform(chunk, controller) {
      seen += chunk.byteLength;
      // The hasher gets its own copy: what it is written may be transferred away.
      await writer.write(chunk.slice());
      if (held) controller.enqueue(held);
      held = chunk;
    },
    async flush(controller) {
      await writer.close();
      const actual = toHex(await hasher.digest);
      if (seen !== length || actual !== expected) {
        controller.error(new Error(`body does not match its ${algorithm} digest and length`));
        return;
      }
      if (held) controller.enqueue(held);
    },
  });
}
