import { describe, expect, it } from "vitest";
import { RegistryError } from "../src/errors";
import { readCapped, upstreamError } from "../src/upstream-error";

const json = (body: unknown, status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
const oci = (code: string, message: string, detail?: unknown) => ({
  errors: [{ code, message, ...(detail === undefined ? {} : { detail }) }],
});

async function wire(error: RegistryError) {
  const response = error.toResponse();
  const body = (await response.json()) as {
    errors: Array<{ code: string; message: string; detail: unknown }>;
  };
  return { status: response.status, headers: response.headers, ...body.errors[0]! };
}

describe("upstreamError: OCI error bodies", () => {
  it("keeps the upstream's own code, message, detail and 4xx status", async () => {
    const error = await upstreamError(
      json(oci("MANIFEST_UNKNOWN", "manifest unknown", { Tag: "nope" }), 404),
      "upstream",
      "BLOB_UNKNOWN",
    );
    expect(await wire(error)).toMatchObject({
      status: 404,
      code: "MANIFEST_UNKNOWN",
      message: "manifest unknown",
      detail: { Tag: "nope" },
    });
  });

  it.each([
    // [status, body code, notFound, expected code]
    [404, "SOMETHING_NEW", "BLOB_UNKNOWN", "BLOB_UNKNOWN"],
    [404, "SOMETHING_NEW", undefined, "UNKNOWN"],
    [403, "SOMETHING_NEW", undefined, "DENIED"],
    [400, "SOMETHING_NEW", undefined, "UNKNOWN"],
    [400, "NAME_INVALID", undefined, "NAME_INVALID"],
  ] as const)(
    "%i with a code the proxy does not know (%s) falls back to the status's code",
    async (status, code, notFound, expected) => {
      const error = await upstreamError(json(oci(code, "said so"), status), "upstream", notFound);
      expect(await wire(error)).toMatchObject({ status, code: expected, message: "said so" });
    },
  );

  it("keeps an OCI code whose optional message is missing (distribution-spec: message is OPTIONAL)", async () => {
    const error = await upstreamError(
      json({ errors: [{ code: "NAME_UNKNOWN" }] }, 404),
      "upstream",
      "MANIFEST_UNKNOWN",
    );
    expect(error.code).toBe("NAME_UNKNOWN");
  });

  it("truncates a long message", async () => {
    const error = await upstreamError(json(oci("DENIED", "x".repeat(5000)), 403), "upstream");
    expect(error.message).toHaveLength(500);
  });
});

describe("upstreamError: token server JSON", () => {
  it.each([
    [{ details: "incorrect username or password" }, "incorrect username or password"],
    [{ error: "invalid_grant" }, "invalid_grant"],
    [{ details: "from details", error: "from error" }, "from details"],
    [{ error: "y".repeat(1000) }, "y".repeat(200)],
  ])("reads its message from %j", async (body, message) => {
    const error = await upstreamError(json(body, 401), "upstream token server");
    expect(await wire(error)).toMatchObject({ status: 401, code: "UNKNOWN", message });
  });

  it.each([{ details: { nested: true } }, { error: 42 }, [], "a string", 42, null])(
    "names only the status for JSON without a message (%j), never throws",
    async (body) => {
      const error = await upstreamError(json(body, 401), "upstream token server");
      expect(error.message).toBe("upstream token server answered 401");
    },
  );
});

describe("upstreamError: pages that are not registry errors", () => {
  const page = "<html><body>internal host db-7.corp, session=SECRET</body></html>";

  it.each([
    ["text/html; charset=utf-8", 404, "BLOB_UNKNOWN", 404],
    ["application/xml", 403, "DENIED", 403],
    ["text/plain", 416, "RANGE_INVALID", 416],
    ["application/json", 404, "BLOB_UNKNOWN", 404], // a page that only claims to be JSON
    [null, 400, "UNKNOWN", 400],
  ])("never echoes a %s body (%i)", async (contentType, status, code, wireStatus) => {
    const headers = new Headers();
    if (contentType) headers.set("content-type", contentType);
    // Bytes, not a string: a string body would get a text/plain content type of its own.
    const upstream = new Response(new TextEncoder().encode(page), { status, headers });
    const error = await upstreamError(upstream, "upstream", "BLOB_UNKNOWN");
    const text = await error.toResponse().text();
    expect(text).not.toMatch(/SECRET|db-7|<html/);
    expect(await wire(error)).toMatchObject({
      status: wireStatus,
      code,
      message: `upstream answered ${status}`,
    });
    if (contentType !== "application/json") {
      expect(error.detail).toEqual({ status, contentType });
    }
    expect(upstream.bodyUsed).toBe(true);
  });
});

describe("upstreamError: status mapping", () => {
  it("keeps 429 as TOOMANYREQUESTS with the rate-limit headers and nothing else", async () => {
    const upstream = json(oci("TOOMANYREQUESTS", "You have reached your pull rate limit."), 429, {
      "retry-after": "3600",
      "ratelimit-limit": "100;w=21600",
      "ratelimit-remaining": "0;w=21600",
      "docker-ratelimit-source": "203.0.113.7",
      "set-cookie": "session=secret",
      "x-amz-request-id": "abc",
    });
    const error = await upstreamError(upstream, "upstream");
    expect(error.status).toBe(429);
    expect(error.code).toBe("TOOMANYREQUESTS");
    expect(error.message).toBe("You have reached your pull rate limit.");
    expect(error.headers).toEqual({
      "retry-after": "3600",
      "ratelimit-limit": "100;w=21600",
      "ratelimit-remaining": "0;w=21600",
      "docker-ratelimit-source": "203.0.113.7",
    });
  });

  it("names the 429 itself when the body says nothing", async () => {
    const error = await upstreamError(new Response("slow down", { status: 429 }), "upstream");
    expect(error.message).toBe("upstream answered 429");
    expect(error.headers).toEqual({});
  });

  it.each([500, 502, 503, 504, 599])("turns %i into 502 UNAVAILABLE", async (status) => {
    const error = await upstreamError(
      new Response("<h1>Bad</h1>", {
        status,
        headers: { "content-type": "text/html", "retry-after": "5" },
      }),
      "upstream",
      "BLOB_UNKNOWN",
    );
    expect(await wire(error)).toMatchObject({
      status: 502,
      code: "UNAVAILABLE",
      message: `upstream answered ${status}`,
      detail: { status, contentType: "text/html" },
    });
    expect(error.headers).toEqual({ "retry-after": "5" });
  });

  it("puts a 5xx's own message in the detail, not its code", async () => {
    const error = await upstreamError(json(oci("DENIED", "maintenance"), 503), "upstream");
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.status).toBe(502);
    expect(error.detail).toBe("maintenance");
  });
});

describe("upstreamError: size cap", () => {
  it("reads an error body up to 16 KiB", async () => {
    const message = "m".repeat(100);
    const padded = JSON.stringify({ ...oci("DENIED", message), pad: "p" }).replace(
      '"p"',
      `"${"p".repeat(16 * 1024 - 200)}"`,
    );
    expect(padded.length).toBeLessThanOrEqual(16 * 1024);
    const error = await upstreamError(
      new Response(padded, { status: 403, headers: { "content-type": "application/json" } }),
      "upstream",
    );
    expect(error.message).toBe(message);
  });

  it("does not read a bigger one", async () => {
    const huge = JSON.stringify({ ...oci("DENIED", "hidden"), pad: "p".repeat(17 * 1024) });
    const error = await upstreamError(
      new Response(huge, { status: 403, headers: { "content-type": "application/json" } }),
      "upstream",
    );
    expect(error.message).toBe("upstream answered 403");
    expect(error.code).toBe("DENIED");
  });
});

/** A body of `chunks` chunks of `size` bytes that records how far it was read and whether it was cancelled. */
function counted(chunks: number, size: number) {
  const state = { pulled: 0, cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled === chunks) return controller.close();
      state.pulled++;
      controller.enqueue(new Uint8Array(size).fill(0x61));
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { body, state };
}

describe("readCapped", () => {
  it("reads a null body as empty text", async () => {
    expect(await readCapped(null, 10)).toBe("");
  });

  it.each([
    [0, 10, ""],
    [3, 10, "aaa"],
    [10, 10, "a".repeat(10)],
  ])("reads %i bytes under a limit of %i", async (length, limit, text) => {
    expect(await readCapped(new Response("a".repeat(length)).body, limit)).toBe(text);
  });

  it("refuses one byte more than the limit", async () => {
    expect(await readCapped(new Response("a".repeat(11)).body, 10)).toBeUndefined();
  });

  it("stops reading and cancels as soon as the limit is passed", async () => {
    const { body, state } = counted(1_000_000, 1024);
    expect(await readCapped(body, 4096)).toBeUndefined();
    expect(state.pulled).toBeLessThanOrEqual(6);
    expect(state.cancelled).toBe(true);
  });

  it("decodes UTF-8 split across chunks", async () => {
    const bytes = new TextEncoder().encode("päss€");
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const byte of bytes) controller.enqueue(new Uint8Array([byte]));
        controller.close();
      },
    });
    expect(await readCapped(body, 100)).toBe("päss€");
  });
});
