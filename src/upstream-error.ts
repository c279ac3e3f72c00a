/** An upstream's error answer, read once and turned into the proxy's own error. */

import { isErrorCode, RegistryError, type ErrorCode } from "./errors";
import { RATE_LIMIT_HEADERS } from "./rate-limit";

/** Error bodies are small; anything bigger is an HTML page or worse, and is not read. */
const MAX_ERROR_BODY = 16 * 1024;

/** What an upstream's error body said, when it was an OCI error or a token server's JSON. */
interface UpstreamMessage {
  code?: ErrorCode;
  message?: string;
  detail?: unknown;
}

/**
 * Turns an upstream's error status into the proxy's error, consuming the body. 429 stays
 * TOOMANYREQUESTS with the rate-limit headers; 5xx becomes 502 UNAVAILABLE; any other 4xx keeps
 * its status, with the upstream's own OCI code and message when it sent one, else `notFound` for a
 * 404. HTML and XML pages never reach the client: only their status and content type are named.
 */
export async function upstreamError(
  upstream: Response,
  what: string,
  notFound?: ErrorCode,
): Promise<RegistryError> {
  const said = await readMessage(upstream);
  const headers: Record<string, string> = {};
  for (const name of RATE_LIMIT_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  const status = upstream.status;
  const detail = said.detail ?? { status, contentType: upstream.headers.get("content-type") };
  if (status === 429) {
    return new RegistryError("TOOMANYREQUESTS", said.message ?? `${what} answered 429`, detail, {
      headers,
    });
  }
  if (status >= 500) {
    return new RegistryError("UNAVAILABLE", `${what} answered ${status}`, said.message ?? detail, {
      headers,
    });
  }
  const code =
    said.code ??
    (status === 404 ? notFound : undefined) ??
    (status === 403 ? "DENIED" : status === 416 ? "RANGE_INVALID" : "UNKNOWN");
  return new RegistryError(code, said.message ?? `${what} answered ${status}`, detail, {
    status,
    headers,
  });
}

/**
 * The message of an OCI error body (`{"errors":[{code,message,detail}]}`) or of a token server's
 * JSON (`{"details": ...}`, `{"error": ...}`); nothing for any other body.
 */
async function readMessage(upstream: Response): Promise<UpstreamMessage> {
  if (!/json/i.test(upstream.headers.get("content-type") ?? "")) {
    await upstream.body?.cancel();
    return {};
  }
  const text = await readCapped(upstream.body, MAX_ERROR_BODY);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? "");
  } catch {
    return {};
  }
  if (typeof parsed !== "object" || parsed === null) return {};
  const body = parsed as { errors?: unknown; details?: unknown; error?: unknown };
  const first: unknown = Array.isArray(body.errors) ? body.errors[0] : undefined;
  if (typeof first === "object" && first !== null) {
    // The spec makes `message` optional; a known code says enough on its own.
    const { code, message, detail } = first as Record<string, unknown>;
    const known = typeof code === "string" && isErrorCode(code) ? code : undefined;
    if (known || typeof message === "string") {
      return {
        code: known,
        message: typeof message === "string" ? message.slice(0, 500) : undefined,
        detail: detail ?? null,
      };
    }
  }
  const message = body.details ?? body.error;
  return typeof message === "string" ? { message: message.slice(0, 200) } : {};
}

/**
 * Reads at most `limit` bytes of a body as text, stopping as soon as it is exceeded.
 * Returns undefined for a longer body: the caller decides whose fault that is.
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<string | undefined> {
  if (!body) return "";
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    text += decoder.decode(value, { stream: true });
  }
}
