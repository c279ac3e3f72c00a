/** Registry errors in the OCI distribution-spec wire format, and the one table that maps codes to statuses. */

/**
 * Error codes the proxy emits. The first block is the distribution-spec set
 * (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes);
 * the rest are distribution's errcode extensions that Docker and containerd already know.
 */
const STATUS = {
  BLOB_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  // Not in the spec's table, used by distribution/registry and understood by clients.
  NOT_FOUND: 404,
  RANGE_INVALID: 416,
  UNAVAILABLE: 503,
  UNKNOWN: 500,
} as const;

export type ErrorCode = keyof typeof STATUS;

/** True for codes in the table (an upstream's own codes are kept only when they are). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(STATUS, code);
}

/** One entry of the OCI error body. */
export interface ErrorInfo {
  code: string;
  message: string;
  detail?: unknown;
}

/**
 * An error the proxy answers with. `status` defaults to the code's status; the upstream-failure
 * cases (502 bad gateway, 504 timeout) use UNAVAILABLE with their own status.
 */
export class RegistryError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: unknown,
    options: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = options.status ?? STATUS[code];
    this.headers = options.headers ?? {};
  }

  /** Renders the error as the response a registry client expects. */
  toResponse(method = "GET"): Response {
    return errorResponse(
      this.status,
      [{ code: this.code, message: this.message, detail: this.detail }],
      this.headers,
      method,
    );
  }
}

/** Builds an OCI error response; HEAD gets the headers without a body, as HTTP requires. */
function errorResponse(
  status: number,
  errors: ErrorInfo[],
  headers: Record<string, string> = {},
  method = "GET",
): Response {
  const body = JSON.stringify({
    errors: errors.map((e) => ({ code: e.code, message: e.message, detail: e.detail ?? null })),
  });
  return new Response(method === "HEAD" ? null : body, {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "docker-distribution-api-version": "registry/2.0",
      ...headers,
    },
  });
}

/** Upstream headers worth passing on, errors or not: when to retry, and the state of the rate limit. */
export const RATE_LIMIT_HEADERS = [
  "retry-after",
  "ratelimit-limit",
  "ratelimit-remaining",
  "docker-ratelimit-source",
];

/**
 * An upstream's error status as the proxy's own error: 429 stays TOOMANYREQUESTS with its
 * rate-limit headers, 5xx becomes 502 UNAVAILABLE, any other 4xx keeps its status. `known` is
 * what the upstream's own OCI body said, or what the status means for the caller.
 */
export function upstreamFailure(
  upstream: Response,
  what: string,
  known: { code?: ErrorCode; message?: string; detail?: unknown } = {},
): RegistryError {
  const headers: Record<string, string> = {};
  for (const name of RATE_LIMIT_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  const status = upstream.status;
  const message = known.message ?? `${what} answered ${status}`;
  // Without an OCI body (an HTML or XML error page), say what came back, not what it said.
  const detail = known.detail ?? { status, contentType: upstream.headers.get("content-type") };
  if (status === 429) return new RegistryError("TOOMANYREQUESTS", message, detail, { headers });
  if (status >= 500) {
    return new RegistryError("UNAVAILABLE", `${what} answered ${status}`, known.message ?? detail, {
      status: 502,
      headers,
    });
  }
  const code =
    known.code ?? (status === 403 ? "DENIED" : status === 416 ? "RANGE_INVALID" : "UNKNOWN");
  return new RegistryError(code, message, detail, { status, headers });
}
