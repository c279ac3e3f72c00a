/** Registry errors in the OCI distribution-spec wire format, and the one table that maps codes to statuses. */

/**
 * Error codes the proxy emits. The first block is the distribution-spec set
 * (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes);
 * the rest are distribution's errcode extensions that Docker and containerd already know.
 */
const STATUS = {
  BLOB_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_INVALID: 400,
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
  // The proxy's own: a query parameter or form field it cannot take, and a request body too big.
  PARAMETER_INVALID: 400,
  REQUEST_TOO_LARGE: 413,
  /** The upstream failed or could not be reached (bad gateway); a timeout says 504 itself. */
  UNAVAILABLE: 502,
  UNKNOWN: 500,
} as const;

export type ErrorCode = keyof typeof STATUS;

/** True for codes in the table (an upstream's own codes are kept only when they are). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(STATUS, code);
}

/**
 * An error the proxy answers with; thrown anywhere, caught once (index.ts). `status` defaults to
 * the code's status; an upstream's own 4xx keeps the upstream's status.
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
  toResponse(): Response {
    const body = JSON.stringify({
      errors: [{ code: this.code, message: this.message, detail: this.detail ?? null }],
    });
    return new Response(body, {
      status: this.status,
      headers: { "content-type": "application/json; charset=utf-8", ...this.headers },
    });
  }
}

/** 401 UNAUTHORIZED carrying a `WWW-Authenticate` challenge. */
export function unauthorized(
  challenge: string,
  message = "authentication required",
): RegistryError {
  return new RegistryError("UNAUTHORIZED", message, undefined, {
    headers: { "www-authenticate": challenge },
  });
}
