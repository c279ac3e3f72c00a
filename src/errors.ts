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
export function errorResponse(
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
