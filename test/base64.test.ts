import { describe, expect, it } from "vitest";
import { fromBase64, toBase64, toBase64url } from "../src/base64";

const bytes = (...values: number[]) => new Uint8Array(values);

describe("toBase64", () => {
  it.each([
    ["", ""],
    ["f", "Zg=="],
    ["fo", "Zm8="],
    ["foo", "Zm9v"],
    ["hello", "aGVsbG8="],
    ["é", "w6k="], // UTF-8, not Latin-1
    ["user:pässwörd", "dXNlcjpww6Rzc3fDtnJk"],
  ])("encodes the UTF-8 of %j as %j (RFC 4648 §10 vectors)", (text, encoded) => {
    expect(toBase64(text)).toBe(encoded);
  });

  it("encodes bytes, including ones outside ASCII", () => {
    expect(toBase64(bytes(0xfb, 0xff, 0x00))).toBe("+/8A");
  });

  it("encodes inputs larger than one 32 KiB slice without losing or reordering bytes", () => {
    const big = new Uint8Array(100_003).map((_, i) => (i * 7) % 256);
    const encoded = toBase64(big);
    expect(encoded).toHaveLength(Math.ceil(big.length / 3) * 4);
    expect(fromBase64(encoded)).toEqual(big);
  });
});

describe("toBase64url", () => {
  it.each([
    [bytes(0xfb, 0xff), "-_8"],
    [bytes(0xff, 0xfe, 0xfd), "__79"],
    [bytes(0x61), "YQ"],
    [bytes(), ""],
  ])("uses - and _ and drops padding", (input, encoded) => {
    expect(toBase64url(input)).toBe(encoded);
  });
});

describe("fromBase64", () => {
  it.each([
    ["aGVsbG8=", "hello"],
    ["aGVsbG8", "hello"], // padding optional
    ["Zg==", "f"],
    ["Zg", "f"],
    ["", ""],
  ])("decodes %j", (text, plain) => {
    expect(new TextDecoder().decode(fromBase64(text))).toBe(plain);
  });

  it("reads both alphabets", () => {
    expect(fromBase64("+/8A")).toEqual(bytes(0xfb, 0xff, 0x00));
    expect(fromBase64("-_8A")).toEqual(bytes(0xfb, 0xff, 0x00));
    expect(fromBase64("-_8")).toEqual(bytes(0xfb, 0xff));
  });

  it.each([
    "!!!",
    "aGVs bG8=", // whitespace
    "aGVsbG8===", // three pad characters
    "ab=c", // padding in the middle
    "a", // one character left over encodes no byte
    "aaaaa",
    "aGVsbG8=\n",
    "ä",
  ])("refuses %j", (text) => {
    expect(fromBase64(text)).toBeUndefined();
  });

  it("round-trips every byte value through both alphabets", () => {
    const all = new Uint8Array(256).map((_, i) => i);
    expect(fromBase64(toBase64(all))).toEqual(all);
    expect(fromBase64(toBase64url(all))).toEqual(all);
  });
});
