/** Content digests (OCI image-spec "Digests"): computing and comparing sha256. */

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
