import { describe, expect, it } from "vitest";
import { answerFor, renderAnswer } from "../src/help-answer";
import { helpScript, helpScriptHash } from "../src/help-script";
import { parseImageReference } from "../src/image-reference";

describe("the help page's script", () => {
  it("is the Worker's own parser and converter, one text for every request", () => {
    const script = helpScript();
    expect(helpScript()).toBe(script);
    for (const fn of [parseImageReference, answerFor, renderAnswer]) {
      expect(script).toContain(fn.toString());
    }
    // Nothing that would end the <script> element it is inlined in.
    expect(script).not.toMatch(/<\/script|<!--/i);
  });

  it("is allowed by the CSP source its hash names", async () => {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(helpScript()));
    const base64 = btoa(String.fromCharCode(...new Uint8Array(digest)));
    expect(await helpScriptHash()).toBe(`'sha256-${base64}'`);
  });
});
