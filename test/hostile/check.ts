/**
 * The hostile corpus's cases, and the one function that sends a case through the whole Worker and
 * checks the answer: on an open proxy, on a locked one as an anonymous attacker, and on a locked
 * one logged in.
 *
 * For every case:
 *   - the Worker answers 4xx in OCI error format (HEAD: no body), or a 2xx that the case documents
 *     as legitimate (`ok`, by reason); never a 5xx;
 *   - no request goes to a host that is not a registered fake upstream (`net.unexpected` is empty
 *     and every host in `net.seen` is one of ours), and errors that the proxy can decide on its own
 *     contact nobody at all (unless the case says `upstream: true`);
 *   - upstream requests carry only the headers a registry needs (no Host, Cookie, X-Forwarded-*).
 *
 * A locked proxy (world.ts LOCKED) answers every anonymous request with the very same 401 as a
 * plain `GET /v2/` (status, headers, body), before routing, policy or method, and contacts nobody;
 * only `/` (the help page) and `/v2/auth` (the login) are served before the login.
 */

/// <reference types="vite/client" />

import { afterEach, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config";
import { isErrorCode } from "../../src/errors";
import { verifyProxyToken } from "../../src/login";
import type { FakeNet } from "../helpers/fake-registry";
import { callWorker } from "../helpers/worker";
import { ALICE, LOCKED, makeWorld, UPSTREAM_HOSTS, USER, type World } from "./world";

/** Why a hostile request may be answered 2xx. The README lists each with how many answers it covers. */
export const REASONS = {
  routed: "the host, `ns` or a path prefix picks a configured upstream",
  resolved: "the URL parser resolves the dot segments first: the path is a plain pull",
  ignored: "what is hostile is dropped: never forwarded, or ignored by the upstream",
  range: "a Range is ignored (the whole blob) or honoured, as RFC 9110 allows",
  token: "`/v2/auth` ignores `service`, `realm` and `account`, and grants only pull scopes",
  method: "the method is GET or HEAD after all (lower case, an override header)",
  head: "HEAD of the ping, the token endpoint or the help page",
  "help page": "the help page at `/`, which a locked proxy shows before the login",
  login: "a login with the proxy user's own password at `/v2/auth` (locked proxy)",
} as const;
export type Reason = keyof typeof REASONS;

export interface Case {
  name: string;
  /** Absolute URL, or a path on https://docker.example.com. */
  url: string;
  init?: RequestInit | (() => RequestInit);
  /** Exact status; default any 4xx (or 2xx with `ok`). */
  status?: number;
  /** OCI code of the first error. */
  code?: string;
  /** A documented 2xx, and its reason. */
  ok?: Reason;
  /** Why this 2xx is legitimate after all. */
  why?: string;
  /** The proxy may (must) ask a configured upstream before answering. Default: contacts no one. */
  upstream?: boolean;
  /** Expected Allow header (405s). */
  allow?: string;
  /** Extra assertions. */
  check?: (answer: Answer) => void | Promise<void>;
  /** Requests sent first with the same env (to fill the content store); they must not 5xx either. */
  prime?: Array<{ url: string; init?: RequestInit }>;
  /** Logged-in cases: the Authorization sent, made from a fresh proxy token (default: Bearer it). */
  login?: (token: string) => string;
  /**
   * The very same 401 (status, headers, body) an anonymous `GET` gets on this host: of `/v2/`
   * (`gate`, the locked proxy's login gate) or of `/v2/auth` (`login`, a refused login).
   */
  refused?: "gate" | "login";
}

/** What a case's `check` sees. */
export interface Answer {
  response: Response;
  body: string;
  net: FakeNet;
  env: World["env"];
}

/**
 * The proxies a case is sent to: an open one; a locked one (LOCKED), with the case's own headers
 * as an anonymous attacker sends them; the locked one with a valid login.
 */
export type Proxy = "open" | "locked" | "logged in";

const PROXY_LABEL: Record<Proxy, string> = {
  open: "open proxy",
  locked: "locked proxy, anonymous",
  "logged in": "locked proxy, logged in",
};

/** A category of the corpus: its cases, and the proxies they are sent to. */
export interface Category {
  name: string;
  cases: Case[];
  proxies: readonly Proxy[];
}

/**
 * Declares a category and, in the file `file` (its `import.meta.url`) only, sends every case to
 * every proxy: the README test imports the categories for their cases alone.
 */
export function category(
  file: string,
  name: string,
  cases: Case[],
  proxies: readonly Proxy[] = ["open", "locked"],
): Category {
  if (isTestFile(file)) {
    describe(name, () => {
      afterEach(() => {
        vi.restoreAllMocks();
      });
      for (const proxy of proxies) {
        describe(PROXY_LABEL[proxy], () => {
          it.each(cases.map((c) => ({ ...c, name: short(c.name) })))("$name", (c) => run(proxy, c));
        });
      }
    });
  }
  return { name, cases, proxies };
}

/** True while `file` (an `import.meta.url`) is the test file vitest runs, not one imported by it. */
export function isTestFile(file: string): boolean {
  return decodeURIComponent(new URL(file).pathname) === expect.getState().testPath;
}

/** What a proxy must answer to a case. */
export type Expectation = Pick<
  Case,
  "status" | "code" | "ok" | "allow" | "check" | "refused" | "upstream"
>;

/**
 * What `proxy` must answer to `c`. An open proxy and a logged-in user get what the case says. An
 * anonymous request to a locked proxy gets the login gate's 401, except at `/` (the help page,
 * answered as on an open proxy) and `/v2/auth`, the login: with the proxy user's credentials a
 * proxy token, without them the login's 401, and what the method or the form alone decides
 * (405 UNSUPPORTED, 413 REQUEST_TOO_LARGE for a form too large, 400 PARAMETER_INVALID for one
 * that is not a password grant) as on an open proxy.
 */
export function expectation(proxy: Proxy, c: Case): Expectation {
  if (proxy !== "locked") return c;
  const unauthorized = { status: 401, code: "UNAUTHORIZED" } as const;
  switch (new URL(absolute(c.url)).pathname) {
    case "/":
      return { status: c.status, code: c.code, allow: c.allow, ok: c.ok && "help page" };
    case "/v2/auth":
      if (c.code && FORM_DECIDED.has(c.code))
        return { status: c.status, code: c.code, allow: c.allow };
      if (carriesLogin(c)) return { ok: "login", status: 200, check: isProxyToken };
      return { ...unauthorized, refused: "login" };
    default:
      return { ...unauthorized, refused: "gate" };
  }
}

/** What the token endpoint decides from the method or the form alone, before any login. */
const FORM_DECIDED = new Set(["UNSUPPORTED", "REQUEST_TOO_LARGE", "PARAMETER_INVALID"]);

const H = "https://docker.example.com";
const absolute = (url: string) => (url.startsWith("/") ? H + url : url);
const initOf = (c: Case): RequestInit => (typeof c.init === "function" ? c.init() : (c.init ?? {}));

/** A big header value or URL part: 100 KiB, past any server's limits. */
export const BIG = 100 * 1024;
export const junk = (n: number) => "x".repeat(n);

/** Shortens a generated text for a readable case name. */
export function short(text: string, max = 90): string {
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
}

/** Headers an upstream request may carry: fetch-upstream.ts FORWARDED_HEADERS and Authorization. */
const FORWARDABLE = new Set([
  "accept",
  "range",
  "if-none-match",
  "if-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
  "user-agent",
  "authorization",
]);

/** Sends one case to one proxy, in a world of its own, and checks the answer. */
async function run(proxy: Proxy, c: Case): Promise<void> {
  const expected = expectation(proxy, c);
  const world = makeWorld(proxy === "open" ? {} : LOCKED);
  // Content is stored as a locked proxy's users store it, by a login; so are logged-in cases sent.
  const token = proxy !== "open" && (c.prime || proxy === "logged in") ? await login(world) : "";
  const authorized = (init: RequestInit = {}, authorization = `Bearer ${token}`) =>
    token ? withHeader(init, "authorization", authorization) : init;

  for (const p of c.prime ?? []) {
    const primed = await callWorker(absolute(p.url), authorized(p.init), world.env);
    await primed.arrayBuffer();
    expect(primed.status, `prime ${p.url}`).toBeLessThan(500);
  }
  const primedCalls = world.net.seen.length;
  const url = absolute(c.url);
  const init = proxy === "logged in" ? authorized(initOf(c), c.login?.(token)) : initOf(c);
  const method = new Request(url, init).method;
  const response = await callWorker(url, init, world.env);
  const body = await response.text();
  const where = `${proxy}: ${method} ${url.slice(0, 200)} -> ${response.status} ${body.slice(0, 300)}`;

  expectAnswer(expected, method, response, body, where);
  if (expected.refused) {
    const anonymous = await refusal(world, url, expected.refused);
    expect([...response.headers], where).toEqual([...anonymous.headers]);
    expect(body, where).toBe(method === "HEAD" ? "" : anonymous.body);
  }
  // A locked proxy contacts nobody for an anonymous request, whatever it answers.
  const quiet = proxy === "locked" || (!expected.upstream && expected.ok === undefined);
  expectContacts(world.net, quiet ? primedCalls : undefined, where);
  await expected.check?.({ response, body, net: world.net, env: world.env });
}

/** A 4xx in OCI error format (HEAD: no body), or the documented 2xx; never a 5xx. */
function expectAnswer(
  expected: Expectation,
  method: string,
  response: Response,
  body: string,
  where: string,
): void {
  const { status } = response;
  expect(status, where).toBeLessThan(500);
  expect(response.headers.get("docker-distribution-api-version"), where).toBe("registry/2.0");
  if (expected.ok !== undefined) {
    expect(status, where).toBeGreaterThanOrEqual(200);
    expect(status, where).toBeLessThan(300);
  } else {
    expect(status, where).toBeGreaterThanOrEqual(400);
  }
  if (expected.status !== undefined) expect(status, where).toBe(expected.status);
  if (expected.allow !== undefined) {
    expect(response.headers.get("allow"), where).toBe(expected.allow);
  }
  if (method === "HEAD") expect(body, where).toBe("");
  if (status < 400) return;

  expect(response.headers.get("content-type"), where).toMatch(/^application\/json/);
  if (method === "HEAD") return;
  const parsed = JSON.parse(body) as { errors?: unknown };
  expect(Array.isArray(parsed.errors), where).toBe(true);
  const errors = parsed.errors as Array<Record<string, unknown>>;
  expect(errors.length, where).toBeGreaterThan(0);
  for (const e of errors) {
    expect(typeof e.code === "string" && isErrorCode(e.code), where).toBe(true);
    expect(typeof e.message, where).toBe("string");
    expect(e, where).toHaveProperty("detail");
  }
  if (expected.code !== undefined) expect(errors[0]!.code, where).toBe(expected.code);
}

/**
 * Not a single request to a host that is not a configured (fake) upstream, only registry headers
 * upstream, and, from `quietAfter` on, no request at all.
 */
function expectContacts(net: FakeNet, quietAfter: number | undefined, where: string): void {
  expect(net.unexpected, where).toEqual([]);
  for (const seen of net.seen) {
    const host = new URL(seen.url).host;
    expect(UPSTREAM_HOSTS.has(host), `${where}: contacted ${host}`).toBe(true);
    for (const name of Object.keys(seen.headers)) {
      expect(FORWARDABLE.has(name), `${where}: forwarded header ${name}`).toBe(true);
    }
  }
  if (quietAfter !== undefined) {
    expect(
      net.seen.slice(quietAfter).map((s) => s.url),
      where,
    ).toEqual([]);
  }
}

/** The 401 an anonymous GET of `/v2/` (the gate) or `/v2/auth` (the login) gets on `url`'s host. */
async function refusal(
  { env }: World,
  url: string,
  refused: "gate" | "login",
): Promise<{ headers: Headers; body: string }> {
  const origin = new URL(url).origin;
  const response = await callWorker(
    `${origin}${refused === "gate" ? "/v2/" : "/v2/auth"}`,
    {},
    env,
  );
  expect(response.status).toBe(401);
  expect(response.headers.get("www-authenticate")).toBe(
    refused === "gate" ? `Bearer realm="${origin}/v2/auth"` : 'Basic realm="cf-registry-proxy"',
  );
  return { headers: response.headers, body: await response.text() };
}

/** Logs in to a locked proxy as its user: the proxy token. */
async function login({ env }: World): Promise<string> {
  const response = await callWorker(`${H}/v2/auth`, { headers: { authorization: ALICE } }, env);
  expect(response.status, "login").toBe(200);
  return ((await response.json()) as { token: string }).token;
}

/** A login's answer: a proxy token for the proxy's user. */
async function isProxyToken({ body, env }: Answer): Promise<void> {
  const { token, access_token } = JSON.parse(body) as { token: string; access_token: string };
  expect(access_token).toBe(token);
  expect(await verifyProxyToken(parseConfig(env), `Bearer ${token}`)).toBe(USER.name);
}

/** True when a case sends the proxy user's credentials: as Basic, or in containerd's POST form. */
function carriesLogin(c: Case): boolean {
  const init = initOf(c);
  if (new Headers(init.headers).get("authorization") === ALICE) return true;
  if (typeof init.body !== "string") return false;
  const form = new URLSearchParams(init.body);
  return form.get("username") === USER.name && form.get("password") === USER.password;
}

function withHeader(init: RequestInit, name: string, value: string): RequestInit {
  const headers = new Headers(init.headers);
  headers.set(name, value);
  return { ...init, headers };
}
