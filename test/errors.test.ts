import { describe, expect, it } from "vitest";
import { isErrorCode, RegistryError, unauthorized, type ErrorCode } from "../src/errors";

async function bodyOf(response: Response) {
  return (await response.json()) as {
    errors: Array<{ code: string; message: string; detail: unknown }>;
  };
}

describe("isErrorCode", () => {
  it.each(["BLOB_UNKNOWN", "MANIFEST_UNKNOWN", "TOOMANYREQUESTS", "UNAVAILABLE", "UNKNOWN"])(
    "knows %s",
    (code) => expect(isErrorCode(code)).toBe(true),
  );

  it.each(["blob_unknown", "SIZE_INVALID", "", "toString", "__proto__", "constructor"])(
    "does not know %j",
    (code) => expect(isErrorCode(code)).toBe(false),
  );
});

describe("RegistryError", () => {
  it.each<[ErrorCode, number]>([
    ["BLOB_UNKNOWN", 404],
    ["DIGEST_INVALID", 400],
    ["MANIFEST_UNKNOWN", 404],
    ["NAME_INVALID", 400],
    ["NAME_UNKNOWN", 404],
    ["UNAUTHORIZED", 401],
    ["DENIED", 403],
    ["UNSUPPORTED", 405],
    ["TOOMANYREQUESTS", 429],
    ["NOT_FOUND", 404],
    ["RANGE_INVALID", 416],
    ["UNAVAILABLE", 502],
    ["UNKNOWN", 500],
  ])("%s answers %i by default", async (code, status) => {
    const error = new RegistryError(code, "something");
    expect(error.status).toBe(status);
    const response = error.toResponse();
    expect(response.status).toBe(status);
    expect((await bodyOf(response)).errors[0]!.code).toBe(code);
  });

  it("renders the OCI error body, detail null when absent", async () => {
    const response = new RegistryError("NAME_UNKNOWN", "repository name not known").toResponse();
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await bodyOf(response)).toEqual({
      errors: [{ code: "NAME_UNKNOWN", message: "repository name not known", detail: null }],
    });
  });

  it("keeps a structured detail, a status override and extra headers", async () => {
    const error = new RegistryError(
      "UNAVAILABLE",
      "upstream did not answer",
      { host: "r.example" },
      { status: 504, headers: { "retry-after": "30" } },
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe("upstream did not answer");
    const response = error.toResponse();
    expect(response.status).toBe(504);
    expect(response.headers.get("retry-after")).toBe("30");
    expect((await bodyOf(response)).errors[0]).toEqual({
      code: "UNAVAILABLE",
      message: "upstream did not answer",
      detail: { host: "r.example" },
    });
  });

  it("renders a fresh response each time", async () => {
    const error = new RegistryError("DENIED", "no");
    const first = error.toResponse();
    const second = error.toResponse();
    expect(await first.text()).toBe(await second.text());
  });

  it("lets its extra headers not override the content type unless asked", () => {
    const response = new RegistryError("DENIED", "no", undefined, {
      headers: { allow: "GET, HEAD" },
    }).toResponse();
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
  });
});

describe("unauthorized", () => {
  it("is a 401 UNAUTHORIZED carrying the challenge", async () => {
    const challenge = 'Bearer realm="https://p.example/v2/auth",service="registry.docker.io"';
    const response = unauthorized(challenge).toResponse();
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(challenge);
    expect(await bodyOf(response)).toEqual({
      errors: [{ code: "UNAUTHORIZED", message: "authentication required", detail: null }],
    });
  });

  it("takes a message", () => {
    expect(unauthorized("Basic", "log in first").message).toBe("log in first");
  });
});
