import { describe, expect, it } from "vitest";
import { formatBasic, isBasic, parseBasic, parseCredential } from "../src/basic-auth";

const basic = (text: string) => `Basic ${btoa(text)}`;

describe("parseCredential", () => {
  it.each([
    ["alice:wonderland", { username: "alice", password: "wonderland" }],
    ["u:t:with:colons", { username: "u", password: "t:with:colons" }],
    ["u::", { username: "u", password: ":" }],
  ])("reads %j", (text, credential) => {
    expect(parseCredential(text)).toEqual(credential);
  });

  it.each(["", "alice", ":wonderland", "alice:", ":"])("refuses %j", (text) => {
    expect(parseCredential(text)).toBeUndefined();
  });
});

describe("formatBasic", () => {
  it("writes RFC 7617's example", () => {
    expect(formatBasic({ username: "Aladdin", password: "open sesame" })).toBe(
      "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    );
  });

  it("encodes UTF-8 (RFC 7617 §2.1 charset=UTF-8)", () => {
    expect(formatBasic({ username: "test", password: "123£" })).toBe("Basic dGVzdDoxMjPCow==");
  });
});

describe("isBasic", () => {
  it.each([
    ["Basic abc", true],
    ["basic abc", true],
    ["BASIC\tabc", true],
    ["Basic", false],
    ["Basicabc", false],
    ["Bearer abc", false],
    ["", false],
    [null, false],
  ])("%j → %s", (value, expected) => {
    expect(isBasic(value)).toBe(expected);
  });
});

describe("parseBasic", () => {
  it("round-trips formatBasic, UTF-8 included", () => {
    for (const credential of [
      { username: "alice", password: "wonderland" },
      { username: "ünïcode", password: "pä:ss wörd" },
    ]) {
      expect(parseBasic(formatBasic(credential))).toEqual(credential);
    }
  });

  it("accepts any case of the scheme, surrounding space and an empty password", () => {
    expect(parseBasic(`  bAsIc   ${btoa("u:p")}  `)).toEqual({ username: "u", password: "p" });
    expect(parseBasic(basic("u:"))).toEqual({ username: "u", password: "" });
  });

  it.each([
    [null],
    [""],
    ["Bearer abc"],
    ["Basic"],
    ["Basic !!!"],
    [`Basic ${btoa("u:p")} extra`],
    [basic("no-colon")],
    [basic(":password")], // no user name
    ["Basic /w=="], // 0xff: not UTF-8
  ])("refuses %j", (value) => {
    expect(parseBasic(value)).toBeUndefined();
  });
});
