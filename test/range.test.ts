import { describe, expect, it } from "vitest";
import { parseRange, usableRange } from "../src/range";

describe("parseRange", () => {
  it.each([
    ["bytes=0-", { offset: 0 }],
    ["bytes=100-", { offset: 100 }],
    ["bytes=0-0", { offset: 0, length: 1 }],
    ["bytes=10-19", { offset: 10, length: 10 }],
    [" bytes=5-9 ", { offset: 5, length: 5 }],
    ["bytes=999999999999999-", { offset: 999_999_999_999_999 }],
  ])("reads %j", (header, range) => {
    expect(parseRange(header)).toEqual(range);
  });

  it.each([
    null,
    "",
    "bytes=",
    "bytes=-500", // suffix ranges are not what registry clients send
    "bytes=10-5",
    "bytes=0-1,5-6",
    "items=0-1",
    "Bytes=0-1",
    "bytes = 0-1",
    "bytes=a-b",
    "bytes=1.5-2",
    "bytes=1000000000000000-", // 16 digits
  ])("ignores %j", (header) => {
    expect(parseRange(header)).toBeUndefined();
  });
});

describe("usableRange", () => {
  it.each([
    ["bytes=0-", "bytes=0-"],
    ["bytes=007-010", "bytes=7-10"],
    ["  bytes=1-1", "bytes=1-1"],
  ])("passes %j on as %j", (header, canonical) => {
    expect(usableRange(header)).toBe(canonical);
  });

  it.each([null, "bytes=0-1,2-3", "bytes=-5", "bytes=9-1"])("drops %j", (header) => {
    expect(usableRange(header)).toBeNull();
  });
});
