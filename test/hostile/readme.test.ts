/** The README's account of the hostile corpus is exact: its cases, and every 2xx by reason. */

import { describe, expect, it } from "vitest";
import readme from "../../README.md?raw";
import { expectation, REASONS, type Category } from "./check";

const categories = Object.values(
  import.meta.glob<Category>(["./*.test.ts", "!./readme.test.ts"], {
    eager: true,
    import: "default",
  }),
);
const sentTo = (proxy: "open" | "logged in") =>
  categories.filter((c) => c.proxies.includes(proxy)).flatMap((c) => c.cases);

/** The README's bullet on the corpus. */
const paragraph =
  /^- \*\*Tested with hostile requests\.\*\*[^]*?(?=\n\S|\n\n)/m.exec(readme)?.[0] ?? "";
const number = (pattern: RegExp) => Number(pattern.exec(paragraph.replace(/\s+/g, " "))?.[1]);

describe("the README on the hostile corpus", () => {
  it("gives the corpus's numbers", () => {
    expect(paragraph).not.toBe("");
    expect(number(/sends (\d+) malformed or malicious requests/)).toBe(sentTo("open").length);
    expect(number(/plus (\d+) as a user logged in/)).toBe(sentTo("logged in").length);
  });

  it("lists every 2xx by design, by reason, with how many answers each covers", () => {
    const counted = new Map<string, number>();
    for (const { cases, proxies } of categories) {
      for (const proxy of proxies) {
        for (const c of cases) {
          const reason = expectation(proxy, c).ok;
          if (reason) counted.set(REASONS[reason], (counted.get(REASONS[reason]) ?? 0) + 1);
        }
      }
    }
    const listed = [...paragraph.matchAll(/^ {2}- (\d+): (.+)$/gm)].map(([, n, reason]) => [
      reason,
      Number(n),
    ]);
    expect(Object.fromEntries(listed)).toEqual(Object.fromEntries(counted));
    expect(listed).toHaveLength(counted.size);
    const total = [...counted.values()].reduce((a, b) => a + b, 0);
    expect(number(/The (\d+) answers that are 2xx by design/)).toBe(total);
  });

  it("names every case once", () => {
    const names = categories.flatMap((c) => c.cases.map((k) => k.name));
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names).size).toBe(names.length);
  });
});
