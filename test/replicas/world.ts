/**
 * The world the replicas live in: every host of every replica on one FakeNet, each with a role,
 * the tokens their token servers minted, and checks over what the proxy sent where.
 */

import { FakeNet, type Seen } from "../helpers/fake-registry";

type Handler = (request: Request, url: URL) => Response | Promise<Response>;

/** Token endpoints that live on a registry's own host (ghcr.io/token, quay.io/v2/auth, …). */
const TOKEN_PATH = /^\/(?:token\/?|v2\/token|v2\/auth|proxy_auth|jwt\/auth|auth)$/;

/**
 * What a host is in a replica: a registry API, a token server, a redirector that only answers
 * 3xx (k8s.gcr.io), or storage that a registry redirects blob downloads to (CDNs, buckets).
 */
export type Role = "registry" | "token" | "redirector" | "storage";

/** What a token minted by a replica token server grants. */
export interface Grant {
  /** The token server that minted it; only the hosts that trust it may ever see it. */
  readonly issuer: string;
  /** Repositories the token may pull; empty for a downscoped (anonymous, unknown repo) token. */
  readonly repositories: readonly string[];
  expiresAt: number;
}

/** How a registry sees a request's Authorization. */
export type Authorization =
  | { kind: "none" }
  | { kind: "basic"; value: string }
  | { kind: "foreign"; value: string }
  | { kind: "expired"; grant: Grant }
  | { kind: "bearer"; grant: Grant };

export class World {
  readonly net = new FakeNet();
  private readonly roles = new Map<string, Role>();
  private readonly grants = new Map<string, Grant>();
  private readonly audiences = new Map<string, Set<string>>();
  private minted = 0;
  /** When true every registry and redirector host answers 503, as during an outage. */
  outage = false;

  /** Serves `host` in `role`. */
  serve(host: string, role: Role, handler: Handler): this {
    if (this.roles.has(host)) throw new Error(`replica host served twice: ${host}`);
    this.roles.set(host, role);
    this.net.on(host, (request, url) => {
      if (this.outage && (role === "registry" || role === "redirector")) {
        return new Response("upstream connect error or disconnect/reset before headers", {
          status: 503,
          headers: { "content-type": "text/plain" },
        });
      }
      return handler(request, url);
    });
    return this;
  }

  /** True when `host` belongs to some replica. */
  has(host: string): boolean {
    return this.roles.has(host);
  }

  roleOf(host: string): Role | undefined {
    return this.roles.get(host);
  }

  /** Declares that tokens minted by `issuer` are meant for `hosts`. */
  trust(issuer: string, ...hosts: string[]): this {
    const set = this.audiences.get(issuer) ?? new Set<string>();
    for (const host of hosts) set.add(host);
    this.audiences.set(issuer, set);
    return this;
  }

  /**
   * Mints a JWT-shaped token for `repositories` (real registries hand out JWTs; the replicas
   * look them up here instead of checking signatures).
   */
  mint(issuer: string, repositories: readonly string[], lifetimeSeconds: number): string {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (value: unknown) =>
      btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const token = [
      b64({ alg: "RS256", typ: "JWT", kid: issuer }),
      b64({
        iss: issuer,
        iat: now,
        exp: now + lifetimeSeconds,
        jti: `${issuer}-${++this.minted}-${crypto.randomUUID()}`,
        access: repositories.map((name) => ({ type: "repository", name, actions: ["pull"] })),
      }),
      "c2lnbmF0dXJl",
    ].join(".");
    this.grants.set(token, {
      issuer,
      repositories: [...repositories],
      expiresAt: Date.now() + lifetimeSeconds * 1000,
    });
    return token;
  }

  /** Makes every token minted by `issuer` expire now. */
  expireTokens(issuer: string): void {
    for (const grant of this.grants.values()) {
      if (grant.issuer === issuer) grant.expiresAt = Date.now() - 1;
    }
  }

  /** Reads a request's Authorization as `host` would: its own tokens, expired ones, or anything else. */
  authorization(request: Request, host: string): Authorization {
    const value = request.headers.get("authorization");
    if (!value) return { kind: "none" };
    if (/^basic\s/i.test(value)) return { kind: "basic", value };
    const token = /^bearer\s+(\S+)$/i.exec(value)?.[1];
    const grant = token ? this.grants.get(token) : undefined;
    if (!grant || !this.audiences.get(grant.issuer)?.has(host)) return { kind: "foreign", value };
    if (grant.expiresAt <= Date.now()) return { kind: "expired", grant };
    return { kind: "bearer", grant };
  }

  /**
   * Every request whose Authorization reached a host it was not meant for: a token on a host that
   * does not trust its issuer (a CDN, a bucket, another registry), a token no replica minted (the
   * proxy's own token forwarded upstream), or Basic credentials anywhere but a token server.
   */
  leaks(): string[] {
    const found: string[] = [];
    for (const seen of this.net.seen) {
      const value = seen.headers.authorization;
      if (!value) continue;
      const host = new URL(seen.url).host;
      const where = `${seen.method} ${seen.url}`;
      if (/^basic\s/i.test(value)) {
        const tokenEndpoint =
          this.roles.get(host) === "token" || TOKEN_PATH.test(new URL(seen.url).pathname);
        if (!tokenEndpoint) found.push(`Basic credentials sent to ${where}`);
        continue;
      }
      const token = /^bearer\s+(\S+)$/i.exec(value)?.[1] ?? "";
      const grant = this.grants.get(token);
      if (!grant) found.push(`a token no replica minted (${value.slice(0, 40)}) sent to ${where}`);
      else if (!this.audiences.get(grant.issuer)?.has(host)) {
        found.push(`a token of ${grant.issuer} sent to ${where}`);
      }
    }
    return found;
  }

  /** What one request the proxy sent upstream was, for counting. */
  kind(seen: Seen): "ping" | "token" | "manifest" | "blob" | "tags" | "other" {
    const url = new URL(seen.url);
    const role = this.roles.get(url.host);
    if (role === "token" || TOKEN_PATH.test(url.pathname)) return "token";
    if (role === "storage") return "blob";
    if (url.pathname === "/v2/" || url.pathname === "/v2") return "ping";
    if (/\/manifests\/[^/]+$/.test(url.pathname)) return "manifest";
    if (/\/blobs\/[^/]+$/.test(url.pathname) || url.pathname.startsWith("/artifacts-downloads/"))
      return "blob";
    if (/\/tags\/list$/.test(url.pathname)) return "tags";
    return "other";
  }

  /** Requests seen since `mark` (an index into `net.seen`), summarised as `METHOD kind host path`. */
  since(mark: number): string[] {
    return this.net.seen.slice(mark).map((s) => {
      const url = new URL(s.url);
      return `${s.method} ${this.kind(s)} ${url.host}${url.pathname}`;
    });
  }
}
