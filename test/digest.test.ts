import { describe, expect, it } from "vitest";
import { sha256Digest, verifyingStream } from "../src/digest";

const EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const ABC = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const ABC_512 =
  "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
const encode = (text: string) => new TextEncoder().encode(text);

describe("sha256Digest", () => {
  it.each([
    ["", EMPTY],
    ["abc", ABC],
  ])("hashes %j (FIPS 180-2 vectors)", async (text, digest) => {
    expect(await sha256Digest(text)).toBe(digest);
    expect(await sha256Digest(encode(text))).toBe(digest);
  });

  it("hashes the UTF-8 bytes of text", async () => {
    expect(await sha256Digest("é")).toBe(await sha256Digest(new Uint8Array([0xc3, 0xa9])));
  });
});

/** Runs chunks through the stream; what came out, and the error it ended with, if any. */
async function run(
  stream: TransformStream<Uint8Array, Uint8Array>,
  chunks: string[],
): Promise<{ out: string[]; error?: unknown }> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encode(chunk));
      controller.close();
    },
  });
  const reader = source.pipeThrough(stream).getReader();
  const out: string[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { out };
      out.push(new TextDecoder().decode(value));
    }
  } catch (error) {
    return { out, error };
  }
}

describe("verifyingStream", () => {
  it.each([[["abc"]], [["a", "b", "c"]], [["ab", "", "c"]]])(
    "passes matching bytes through and closes (%j)",
    async (chunks) => {
      const { out, error } = await run(verifyingStream(ABC, 3)!, chunks);
      expect(error).toBeUndefined();
      expect(out.join("")).toBe("abc");
    },
  );

  it("passes an empty body that matches", async () => {
    expect(await run(verifyingStream(EMPTY, 0)!, [])).toEqual({ out: [] });
  });

  it("verifies sha512 too", async () => {
    const { out, error } = await run(verifyingStream(ABC_512, 3)!, ["a", "bc"]);
    expect(error).toBeUndefined();
    expect(out.join("")).toBe("abc");
  });

  it.each([
    ["a wrong digest", EMPTY, 3, ["a", "b", "c"]],
    ["a body longer than stated", ABC, 2, ["a", "b", "c"]],
    ["a body shorter than stated", ABC, 4, ["a", "b", "c"]],
    ["a cut-short body", ABC, 3, ["a", "b"]],
    ["a wrong sha512", ABC_512.replace(/.$/, "0"), 3, ["a", "b", "c"]],
  ])("errors on %s and withholds the last chunk", async (_, digest, length, chunks) => {
    const { out, error } = await run(verifyingStream(digest, length)!, chunks);
    expect(error).toBeInstanceOf(Error);
    expect(String(error)).toMatch(/does not match/);
    expect(out).toEqual(chunks.slice(0, -1));
  });

  it("never lets a single-chunk body out when it does not match", async () => {
    const { out, error } = await run(verifyingStream(EMPTY, 3)!, ["abc"]);
    expect(error).toBeDefined();
    expect(out).toEqual([]);
  });

  it("holds each chunk until the next arrives", async () => {
    const stream = verifyingStream(ABC, 3)!;
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    void writer.write(encode("a"));
    const first = reader.read();
    const late = await Promise.race([
      first.then(() => "read"),
      new Promise((resolve) => setTimeout(() => resolve("pending"), 20)),
    ]);
    expect(late).toBe("pending");
    void writer.write(encode("bc"));
    expect(new TextDecoder().decode((await first).value)).toBe("a");
    void writer.close();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("bc");
    expect((await reader.read()).done).toBe(true);
  });

  it("fails closed on a digest without its encoded part", async () => {
    const { out, error } = await run(verifyingStream("sha256", 3)!, ["a", "bc"]);
    expect(error).toBeDefined();
    expect(out).toEqual(["a"]);
  });

  it.each(["md5:900150983cd24fb0d6963f7d28e17f72", "sha384:abc", "", "SHA256:abc"])(
    "is undefined for an algorithm it cannot compute (%j)",
    (digest) => {
      expect(verifyingStream(digest, 3)).toBeUndefined();
    },
  );
});
