/**
 * Token requests (/v2/auth) trying to steer the proxy: `service`, `realm`, `ns` and scopes are
 * never a destination. Credentials only ever go to the realm learned from the configured
 * upstream. GET and POST (containerd's OAuth2 form).
 */

import { expect } from "vitest";
import { category, junk, type Answer, type Case } from "./check";
import { ALICE, HUB_AUTH } from "./world";

const form = (
  body: string | ReadableStream,
  headers: Record<string, string> = {},
): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  body,
});
const onlyHubTokenServer = ({ net }: Answer) => {
  const tokenCalls = net.seen.filter((s) => new URL(s.url).pathname === "/token");
  expect(tokenCalls.every((s) => new URL(s.url).host === HUB_AUTH)).toBe(true);
  for (const s of tokenCalls) {
    expect(new URL(s.url).searchParams.get("service")).toBe("registry.docker.io");
  }
};
const manyScopes = (n: number, repo = (i: number) => `r${i}/x`) =>
  Array.from({ length: n }, (_, i) => `scope=repository:${repo(i)}:pull`).join("&");

const TOKENS: Case[] = [
  {
    name: "GET service=evil.com",
    url: "/v2/auth?service=evil.com&scope=repository:nginx:pull",
    ok: "token",
    why: "service is not a destination: anonymous token",
    check: onlyHubTokenServer,
  },
  {
    name: "GET realm=http://evil.com",
    url: "/v2/auth?realm=http://evil.com/token&scope=repository:nginx:pull",
    ok: "token",
    why: "the realm is learned from the upstream, never taken from the client",
  },
  {
    name: "GET realm=evil + service=evil with credentials: token from auth.docker.io only",
    url: "/v2/auth?realm=http://evil.com/token&service=evil.com&scope=repository:alice/private:pull",
    init: { headers: { authorization: ALICE } },
    ok: "token",
    why: "credentials go to Docker Hub's learned realm for Docker Hub's service",
    check: (answer) => {
      onlyHubTokenServer(answer);
      expect(answer.net.to(HUB_AUTH)).toHaveLength(1);
    },
  },
  {
    name: "GET account=evil.com CRLF with credentials",
    url: "/v2/auth?account=evil.com%0d%0a&scope=repository:alice/private:pull",
    init: { headers: { authorization: ALICE } },
    ok: "token",
    why: "account is a query parameter for the configured token server only",
    check: onlyHubTokenServer,
  },
  ...(
    [
      ["evil.com/x", "repository:evil.com/x:pull", "NAME_UNKNOWN"],
      ["127.0.0.1/x", "repository:127.0.0.1/x:pull", "NAME_UNKNOWN"],
      ["169.254.169.254/latest", "repository:169.254.169.254/latest:pull", "NAME_UNKNOWN"],
      ["localhost/x", "repository:localhost/x:pull", "NAME_UNKNOWN"],
      ["localhost:5000/x", "repository:localhost:5000/x:pull", "NAME_UNKNOWN"],
      ["[::1]/x", "repository:[::1]/x:pull", "NAME_UNKNOWN"],
      ["metadata.google.internal/x", "repository:metadata.google.internal/x:pull", "NAME_UNKNOWN"],
      ["nginx@evil.com", "repository:nginx@evil.com:pull", "NAME_INVALID"],
      ["user@evil.com/x", "repository:user@evil.com/x:pull", "NAME_UNKNOWN"],
      ["nginx#evil.com (encoded #)", "repository:nginx%23evil.com:pull", "NAME_INVALID"],
      ["nginx?ns=evil.com (encoded ?)", "repository:nginx%3Fns=evil.com:pull", "NAME_INVALID"],
      ["newline", "repository:nginx%0aevil.com:pull", "NAME_INVALID"],
      [
        "../../etc/passwd (.. has a dot: read as a registry name)",
        "repository:../../etc/passwd:pull",
        "NAME_UNKNOWN",
      ],
      ["ghcr.io/../evil.com/x", "repository:ghcr.io/../evil.com/x:pull", "NAME_INVALID"],
      ["a:b:c (extra colons)", "repository:a:b:c:pull", "NAME_INVALID"],
      ["NGINX (uppercase)", "repository:NGINX:pull", "NAME_INVALID"],
      ["NUL", "repository:nginx%00:pull", "NAME_INVALID"],
    ] as const
  ).map(
    ([label, scope, code]): Case => ({
      name: `GET scope ${label}`,
      url: `/v2/auth?scope=${scope}`,
      code,
    }),
  ),
  {
    name: "GET scope evil.com/x with credentials: they go nowhere",
    url: "/v2/auth?scope=repository:evil.com/x:pull",
    init: { headers: { authorization: ALICE } },
    code: "NAME_UNKNOWN",
    status: 404,
  },
  {
    name: "GET ns=evil.com",
    url: "/v2/auth?ns=evil.com&scope=repository:nginx:pull",
    code: "NAME_UNKNOWN",
  },
  {
    name: "GET ns= (empty)",
    url: "/v2/auth?ns=&scope=repository:nginx:pull",
    code: "NAME_UNKNOWN",
  },
  {
    name: "GET ns=169.254.169.254 without scope",
    url: "/v2/auth?ns=169.254.169.254",
    code: "NAME_UNKNOWN",
  },
  {
    name: "GET ns=ghcr.io with scope evil.com/x",
    url: "/v2/auth?ns=ghcr.io&scope=repository:evil.com/x:pull",
    code: "NAME_UNKNOWN",
  },
  {
    name: "GET scopes for two registries",
    url: "/v2/auth?scope=repository:nginx:pull&scope=repository:ghcr.io/org/tool:pull",
    code: "DENIED",
    status: 403,
  },
  {
    name: "GET scopes for two registries, space-joined",
    url: "/v2/auth?scope=repository:nginx:pull%20repository:ghcr.io/org/tool:pull",
    code: "DENIED",
    status: 403,
  },
  {
    name: "GET scopes for three registries",
    url: "/v2/auth?scope=repository:nginx:pull&scope=repository:quay.io/a/b:pull&scope=repository:ghcr.io/org/tool:pull",
    code: "DENIED",
  },
  {
    name: "GET ns=ghcr.io scope plus a docker.io-prefixed scope",
    url: "/v2/auth?ns=ghcr.io&scope=repository:org/tool:pull&scope=repository:docker.io/library/nginx:pull",
    code: "DENIED",
  },
  {
    name: "GET two registries with credentials: they go nowhere",
    url: "/v2/auth?scope=repository:nginx:pull&scope=repository:ghcr.io/org/tool:pull",
    init: { headers: { authorization: ALICE } },
    code: "DENIED",
  },
  {
    name: "GET a good scope then evil.com/x",
    url: "/v2/auth?scope=repository:ghcr.io/org/tool:pull&scope=repository:evil.com/x:pull",
    code: "NAME_UNKNOWN",
  },
  {
    name: "GET 300 scopes, last one evil.com/x",
    url: `/v2/auth?${manyScopes(300)}&scope=repository:evil.com/x:pull`,
    code: "NAME_UNKNOWN",
  },
  {
    name: "GET 300 scopes on one registry",
    url: `/v2/auth?${manyScopes(300)}`,
    ok: "token",
    why: "many pull scopes on one upstream: anonymous token",
    check: onlyHubTokenServer,
  },
  {
    name: "GET 300 scopes on one registry with credentials",
    url: `/v2/auth?${manyScopes(300)}`,
    init: { headers: { authorization: ALICE } },
    ok: "token",
    why: "one token request with 300 pull scopes, to the configured token server",
    check: (answer) => {
      onlyHubTokenServer(answer);
      expect(answer.net.to(HUB_AUTH)).toHaveLength(1);
    },
  },
  {
    name: "GET 300 scopes alternating two registries",
    url: `/v2/auth?${manyScopes(300, (i) => (i % 2 ? "ghcr.io/org/tool" : "nginx"))}`,
    code: "DENIED",
  },
  {
    // The space splits it into `repository:nginx\r\nLocation:` (no actions) and
    // `http://evil.com:pull` (type http): neither is a repository scope, both are dropped.
    name: "GET scope CRLF Location injection",
    url: "/v2/auth?scope=repository:nginx%0d%0aLocation:%20http://evil.com:pull",
    ok: "token",
    why: "malformed scopes are dropped: the anonymous token, for no repository",
    check: ({ response }) => expect(response.headers.get("location")).toBeNull(),
  },
  {
    name: "GET raw # cuts the scope (fragment)",
    url: "/v2/auth?scope=repository:nginx#:pull",
    ok: "token",
    why: "the fragment never reaches the server; `repository:nginx` is no scope and is dropped",
  },
  {
    name: "GET registry:catalog:*",
    url: "/v2/auth?scope=registry:catalog:*",
    ok: "token",
    why: "non-repository scopes are dropped: anonymous token for nothing",
  },
  {
    name: "GET push,delete,* scope with credentials is cut to pull",
    url: "/v2/auth?scope=repository:alice/private:push,delete,*",
    init: { headers: { authorization: ALICE } },
    ok: "token",
    why: "the proxy asks the upstream for pull only",
    check: ({ net }) => {
      const [call] = net.to(HUB_AUTH);
      expect(new URL(call!.url).searchParams.getAll("scope")).toEqual([
        "repository:alice/private:pull",
      ]);
    },
  },
  {
    name: "GET scope=::: (no type, no name)",
    url: "/v2/auth?scope=:::",
    ok: "token",
    why: "unparsable scopes are dropped",
  },
  {
    name: "GET scope= (empty)",
    url: "/v2/auth?scope=",
    ok: "token",
    why: "no scope: anonymous token",
  },
  {
    name: "GET wrong Basic credentials",
    url: "/v2/auth?scope=repository:alice/private:pull",
    init: { headers: { authorization: `Basic ${btoa("alice:wrong")}` } },
    upstream: true,
    code: "UNAUTHORIZED",
    status: 401,
  },
  {
    name: "HEAD ns=evil.com has no body",
    url: "/v2/auth?ns=evil.com",
    init: { method: "HEAD" },
    code: "NAME_UNKNOWN",
  },
  // POST: containerd's OAuth2 form.
  {
    name: "POST 70 KiB form",
    url: "/v2/auth",
    init: () => form(`grant_type=password&x=${junk(70 * 1024)}`),
    status: 413,
    code: "REQUEST_TOO_LARGE",
  },
  {
    name: "POST endless streamed body (stopped at 64 KiB)",
    url: "/v2/auth",
    init: () => {
      let sent = 0;
      return form(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent++ > 1024) controller.close();
            else controller.enqueue(new TextEncoder().encode(junk(16 * 1024)));
          },
        }),
      );
    },
    status: 413,
    code: "REQUEST_TOO_LARGE",
  },
  {
    name: "POST JSON instead of a form",
    url: "/v2/auth",
    init: () =>
      form('{"grant_type":"password","username":"alice"}', { "content-type": "application/json" }),
    status: 400,
    code: "PARAMETER_INVALID",
  },
  {
    name: "POST empty body",
    url: "/v2/auth",
    init: () => form(""),
    status: 400,
    code: "PARAMETER_INVALID",
  },
  {
    name: "POST grant_type=refresh_token",
    url: "/v2/auth",
    init: () => form("grant_type=refresh_token&refresh_token=x&service=evil.com"),
    status: 400,
    code: "PARAMETER_INVALID",
  },
  {
    name: "POST grant_type=client_credentials",
    url: "/v2/auth",
    init: () => form("grant_type=client_credentials&client_id=x"),
    status: 400,
    code: "PARAMETER_INVALID",
  },
  {
    name: "POST grant_type=PASSWORD (case)",
    url: "/v2/auth",
    init: () => form("grant_type=PASSWORD&username=alice&password=wonderland"),
    status: 400,
    code: "PARAMETER_INVALID",
  },
  {
    name: "POST grant_type=%zz (bad escape)",
    url: "/v2/auth",
    init: () => form("grant_type=%zz&scope=%"),
    status: 400,
    code: "PARAMETER_INVALID",
  },
  {
    name: "POST binary garbage",
    url: "/v2/auth",
    init: () => ({ method: "POST", body: new Uint8Array([0xff, 0xfe, 0, 1, 2, 0xc0, 0xae]) }),
    status: 400,
    code: "PARAMETER_INVALID",
  },
  {
    name: "POST multipart form",
    url: "/v2/auth",
    init: () => ({
      method: "POST",
      body: (() => {
        const f = new FormData();
        f.set("grant_type", "password");
        return f;
      })(),
    }),
    status: 400,
    code: "PARAMETER_INVALID",
  },
  {
    name: "POST scope evil.com/x with credentials",
    url: "/v2/auth",
    init: () =>
      form(
        "grant_type=password&username=alice&password=wonderland&scope=repository%3Aevil.com%2Fx%3Apull",
      ),
    code: "NAME_UNKNOWN",
  },
  {
    name: "POST scope 169.254.169.254/x",
    url: "/v2/auth",
    init: () => form("grant_type=password&scope=repository%3A169.254.169.254%2Fx%3Apull"),
    code: "NAME_UNKNOWN",
  },
  {
    name: "POST scopes for two registries",
    url: "/v2/auth",
    init: () =>
      form(
        "grant_type=password&username=alice&password=wonderland&scope=repository%3Anginx%3Apull%20repository%3Aghcr.io%2Forg%2Ftool%3Apull",
      ),
    code: "DENIED",
    status: 403,
  },
  {
    name: "POST ?ns=evil.com with a good form",
    url: "/v2/auth?ns=evil.com",
    init: () =>
      form(
        "grant_type=password&username=alice&password=wonderland&scope=repository%3Anginx%3Apull",
      ),
    code: "NAME_UNKNOWN",
  },
  {
    name: "POST service=evil.com realm=http://evil.com with credentials",
    url: "/v2/auth",
    init: () =>
      form(
        "grant_type=password&username=alice&password=wonderland&service=evil.com&realm=http%3A%2F%2Fevil.com&scope=repository%3Aalice%2Fprivate%3Apull",
      ),
    ok: "token",
    why: "service and realm in the form are ignored: Docker Hub's learned realm, Docker Hub's service",
    check: onlyHubTokenServer,
  },
  {
    name: "POST grant_type twice (first is password), empty credentials",
    url: "/v2/auth",
    init: () =>
      form("grant_type=password&grant_type=refresh_token&scope=repository%3Anginx%3Apull"),
    upstream: true,
    ok: "token",
    why: "a password grant without a username asks for nothing: the anonymous token",
  },
  {
    name: "POST 300 scopes with credentials",
    url: "/v2/auth",
    init: () => form(`grant_type=password&username=alice&password=wonderland&${manyScopes(300)}`),
    ok: "token",
    why: "one token request to the configured token server",
    check: onlyHubTokenServer,
  },
  {
    // The Basic header the proxy builds is ~85 KiB; the upstream token server refuses it (431).
    name: "POST 60 KiB username",
    url: "/v2/auth",
    init: () =>
      form(
        `grant_type=password&username=${junk(60 * 1024)}&password=x&scope=repository%3Anginx%3Apull`,
      ),
    upstream: true,
  },
  {
    name: "POST non-ASCII username",
    url: "/v2/auth",
    init: () =>
      form(
        "grant_type=password&username=%E2%98%83%00%FF&password=%F0%9F%90%B3&scope=repository%3Anginx%3Apull",
      ),
    upstream: true,
    code: "UNAUTHORIZED",
  },
];

export default category(import.meta.url, "token requests", TOKENS);
