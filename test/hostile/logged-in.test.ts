/**
 * Hostile requests from a user logged in to a locked proxy (PROXY_USERS, ALLOW =
 * docker.io/library/*): a name outside ALLOW is DENIED in every routing mode, a prefix or `ns`
 * naming a foreign host is NAME_UNKNOWN, and a tampered or foreign token gets the very same 401 as
 * no token at all. Nobody is contacted.
 */

import { toBase64url } from "../../src/base64";
import { parseConfig } from "../../src/config";
import { issueProxyToken, PROXY_TOKEN_TTL_S } from "../../src/login";
import { category, type Case } from "./check";
import { BLOB, LOCKED, TOKEN_SECRET, USER } from "./world";

const now = Date.now();
const expired = await issueProxyToken(
  parseConfig({ ...LOCKED, TOKEN_SECRET }),
  USER.name,
  now - (PROXY_TOKEN_TTL_S + 60) * 1000,
);
const foreign = await issueProxyToken(
  parseConfig({ ...LOCKED, TOKEN_SECRET: "another-deployment-token-secret" }),
  USER.name,
  now,
);
/** A token's parts: `cfrp2`, payload, signature. */
const parts = (token: string) => token.split(".") as [string, string, string];
const claims = (claims: object) => toBase64url(JSON.stringify(claims));

const denied = { status: 403, code: "DENIED" } as const;
const unknown = { status: 404, code: "NAME_UNKNOWN" } as const;
/** A tampered token, on a name outside ALLOW: the gate answers before the policy. */
const tampered = (name: string, login: (token: string) => string): Case => ({
  name: `tampered token: ${name}`,
  url: "/v2/ghcr.io/org/tool/manifests/latest",
  login,
  status: 401,
  code: "UNAUTHORIZED",
  refused: "gate",
});

const LOGGED_IN: Case[] = [
  { name: "Docker Hub name outside ALLOW", url: "/v2/org/tool/manifests/latest", ...denied },
  {
    name: "prefixed name outside ALLOW",
    url: "/v2/ghcr.io/org/tool/manifests/latest",
    ...denied,
  },
  {
    name: "ns=ghcr.io outside ALLOW",
    url: "/v2/org/tool/manifests/latest?ns=ghcr.io",
    ...denied,
  },
  {
    name: "ghcr host, blob outside ALLOW",
    url: `https://ghcr.example.com/v2/org/tool/blobs/${BLOB}`,
    ...denied,
  },
  {
    name: "private repository reached by dot segments from library/",
    url: "/v2/library/nginx/../../alice/private/manifests/latest",
    ...denied,
  },
  {
    name: "docker.io/ prefix outside library/",
    url: "/v2/docker.io/alice/private/tags/list",
    ...denied,
  },
  {
    name: "prefix evil.com/ before an allowed name",
    url: "/v2/evil.com/library/nginx/manifests/latest",
    ...unknown,
  },
  {
    name: "prefix 169.254.169.254/",
    url: "/v2/169.254.169.254/latest/meta-data/manifests/latest",
    ...unknown,
  },
  {
    name: "ns=evil.com on an allowed name",
    url: "/v2/library/nginx/manifests/latest?ns=evil.com",
    ...unknown,
  },
  { name: "ping with ns=evil.com", url: "/v2/?ns=evil.com", ...unknown },
  tampered("signature changed", (t) => {
    const [prefix, payload, signature] = parts(t);
    return `Bearer ${prefix}.${payload}.${signature.startsWith("A") ? "B" : "A"}${signature.slice(1)}`;
  }),
  tampered("payload names another user", (t) => {
    const [prefix, , signature] = parts(t);
    return `Bearer ${prefix}.${claims({ u: "bob", t: Math.floor(now / 1000) })}.${signature}`;
  }),
  tampered("payload issued a century later", (t) => {
    const [prefix, , signature] = parts(t);
    return `Bearer ${prefix}.${claims({ u: USER.name, t: 9e9 })}.${signature}`;
  }),
  tampered("no signature", (t) => `Bearer ${parts(t).slice(0, 2).join(".")}`),
  tampered("sent twice", (t) => `Bearer ${t} ${t}`),
  tampered("as Basic credentials", (t) => `Basic ${btoa(`${USER.name}:${t}`)}`),
  tampered("expired", () => `Bearer ${expired}`),
  tampered("another deployment's (TOKEN_SECRET)", () => `Bearer ${foreign}`),
  tampered("the open proxy's anonymous token", () => "Bearer cf-registry-proxy.anonymous"),
];

export default category(import.meta.url, "logged in", LOGGED_IN, ["logged in"]);
