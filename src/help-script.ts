/**
 * The help page's one script: the converter, live as a person types, and the copy buttons. It is
 * built from the source of the functions the Worker runs (`parseImageReference`, `answerFor`,
 * `renderAnswer`), so the page and the server-rendered answer (`/?image=`) cannot disagree, and it
 * is the same text for every request: the page's CSP allows it by a hash computed once per isolate.
 */

import { answerFor, renderAnswer, type HelpSite } from "./help-answer";
import { toBase64 } from "./base64";
import { parseImageReference } from "./image-reference";

// The little of the DOM the script uses (this project compiles without the DOM library).
interface PageElement {
  textContent: string | null;
  innerHTML: string;
  value: string;
  readonly parentElement: PageElement | null;
  readonly classList: { add(name: string): void };
  closest(selector: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
  getAttribute(name: string): string | null;
  addEventListener(type: string, listener: (event: PageEvent) => void): void;
  focus(): void;
}
interface PageEvent {
  readonly target: Partial<PageElement> | null;
  preventDefault(): void;
}
interface PageWindow {
  readonly document: {
    readonly documentElement: PageElement;
    getElementById(id: string): PageElement | null;
    addEventListener(type: string, listener: (event: PageEvent) => void): void;
    createRange(): { selectNodeContents(node: PageElement): void };
    execCommand(command: string): boolean;
  };
  readonly navigator: { readonly clipboard?: { writeText(text: string): Promise<void> } };
  readonly isSecureContext: boolean;
  readonly location: { readonly pathname: string };
  readonly history: { replaceState(state: null, unused: string, url: string): void };
  getSelection(): { removeAllRanges(): void; addRange(range: unknown): void } | null;
  setTimeout(callback: () => void, ms: number): unknown;
}

/**
 * Runs in the browser. The form's `data-site` holds the HelpSite; without this script the form
 * submits `GET /?image=` and the Worker renders the same answer.
 */
function helpMain(
  win: PageWindow,
  parse: typeof parseImageReference,
  answer: typeof answerFor,
  render: typeof renderAnswer,
): void {
  const doc = win.document;
  doc.documentElement.classList.add("js");
  const form = doc.getElementById("convert");
  const input = doc.getElementById("image");
  const output = doc.getElementById("answer");
  if (!form || !input || !output) return;
  const site = JSON.parse(form.getAttribute("data-site") ?? "") as HelpSite;

  const show = (value: string) => {
    output.innerHTML = render(answer(value, site, parse));
    // The address stays what the form without script would have submitted: shareable.
    const query = value.trim() ? `?${new URLSearchParams({ image: value })}` : "";
    win.history.replaceState(null, "", `${win.location.pathname}${query}`);
  };
  input.addEventListener("input", () => show(input.value));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    show(input.value);
  });

  const copy = (button: PageElement) => {
    const pre = button.parentElement?.querySelector("pre");
    if (!pre) return;
    const done = (label: string) => {
      button.textContent = label;
      win.setTimeout(() => (button.textContent = "Copy"), 1500);
    };
    // Without the Clipboard API (plain HTTP on a LAN address): select the text and ask for a copy.
    const fallback = () => {
      const range = doc.createRange();
      range.selectNodeContents(pre);
      const selection = win.getSelection();
      selection?.removeAllRanges();
      selection?.addRange(range);
      let copied = false;
      try {
        copied = doc.execCommand("copy");
      } catch {
        copied = false;
      }
      done(copied ? "Copied" : "Press Ctrl+C");
    };
    const clipboard = win.isSecureContext ? win.navigator.clipboard : undefined;
    if (clipboard) {
      clipboard.writeText(pre.textContent ?? "").then(() => done("Copied"), fallback);
    } else {
      fallback();
    }
  };

  doc.addEventListener("click", (event) => {
    const target = event.target;
    if (!target?.closest) return;
    const example = target.closest("a.example");
    if (example) {
      event.preventDefault();
      // The link's own `?image=`: its text may be shortened.
      const query = (example.getAttribute("href") ?? "").split("?")[1] ?? "";
      input.value = new URLSearchParams(query).get("image") ?? "";
      show(input.value);
      input.focus();
      return;
    }
    const button = target.closest("button.copy");
    if (button) copy(button);
  });
}

let script: string | undefined;
let scriptHash: Promise<string> | undefined;

/** The page's inline script, the same text for every request of this isolate. */
export function helpScript(): string {
  if (script === undefined) {
    const text = [
      '"use strict";',
      "(() => {",
      // wrangler bundles with esbuild's keepNames, which wraps named inner functions as __name(fn, "name").
      "const __name = (fn) => fn;",
      `(${helpMain})(window, (${parseImageReference}), (${answerFor}), (${renderAnswer}));`,
      "})();",
    ].join("\n");
    // Inside <script>, these would end or confuse the element.
    if (/<\/script|<!--/i.test(text)) throw new Error("the help script cannot be inlined");
    script = text;
  }
  return script;
}

/** The CSP source that allows exactly that script: `'sha256-…'`. */
export function helpScriptHash(): Promise<string> {
  scriptHash ??= crypto.subtle
    .digest("SHA-256", new TextEncoder().encode(helpScript()))
    .then((digest) => `'sha256-${toBase64(new Uint8Array(digest))}'`);
  return scriptHash;
}
