/**
 * A registry client that pulls through the proxy the way Docker and containerd do: ping, the token
 * dance against the realm the proxy names, HEAD and GET by tag, every manifest by digest, every
 * blob, checking each digest against the bytes.
 */

import { expect } from "vitest";
import type { Bindings } from "../../src/index";
import { sha256 } from "../helpers/fake-registry";
import { callWorker } from "../helpers/worker";
import { MediaType, type Descriptor } from "../replicas/content";
import type { Replica } from "../replicas/registry";

/** Accept lists of the clients the tests play. */
export const ACCEPT = {
  /** containerd's list (also Docker 25+ with the containerd image store): every type, then any. */
  all: [
    MediaType.dockerManifest,
    MediaType.dockerList,
    MediaType.ociManifest,
    MediaType.ociIndex,
    "*/*",
  ].join(", "),
  /** An old Docker client: schema 2 image manifests only, no lists. */
  schema2: MediaType.dockerManifest,
  /** An OCI-only client: OCI manifests and indexes, no Docker types. */
  oci: `${MediaType.ociManifest}, ${MediaType.ociIndex}`,
  /** A single-manifest OCI client: no index of any kind. */
  ociManifest: MediaType.ociManifest,
} as const;

/** How a client names the registry to the proxy (README "Routing"). */
export type Mode = "host" | "prefix" | "ns";
export const MODES: readonly Mode[] = ["host", "prefix", "ns"];

/** Where a client sends its requests and the repository name it uses. */
export interface Target {
  readonly origin: string;
  /** The repository as the client writes it in the path (prefix included). */
  readonly name: string;
  /** containerd's `ns`. */
  readonly ns?: string;
}

/**
 * host: `https://<route>.example.com/v2/<repo>/…`; prefix: `https://docker.example.com/v2/<registry>/<repo>/…`
 * (podman's mirror location with a path); ns: `https://docker.example.com/v2/<repo>/…?ns=<registry>`.
 */
export function target(
  replica: Pick<Replica, "route" | "registry">,
  repository: string,
  mode: Mode,
): Target {
  switch (mode) {
    case "host":
      return { origin: `https://${replica.route}.example.com`, name: repository };
    case "prefix":
      return { origin: "https://docker.example.com", name: `${replica.registry}/${repository}` };
    case "ns":
      return { origin: "https://docker.example.com", name: repository, ns: replica.registry };
  }
}

/** What one pull fetched, digests as the client verified them. */
export interface PullReport {
  root: string;
  rootType: string;
  manifests: string[];
  blobs: string[];
}

/** A response summarised for an assertion message: status, the challenge, the start of the body. */
export async function explain(response: Response): Promise<string> {
  const textual = /json|text|xml/.test(response.headers.get("content-type") ?? "");
  const body = response.bodyUsed || !textual ? "" : (await response.clone().text()).slice(0, 300);
  const challenge = response.headers.get("www-authenticate");
  return `${response.status}${challenge ? ` [www-authenticate: ${challenge}]` : ""} ${body}`;
}

export class Client {
  token: string | undefined;
  /** Set once the client has pinged `/v2/`, as every client does before its first request. */
  pinged = false;
  /** Every request this client made, as `METHOD url → status`. */
  readonly log: string[] = [];

  constructor(
    readonly env: Bindings,
    readonly target: Target,
    readonly accept: string | null = ACCEPT.all,
  ) {}

  /** A URL on the proxy for this client's repository, with `ns` when the client uses it. */
  url(path: string, query: Record<string, string> = {}): string {
    const url = new URL(`${this.target.origin}/v2/${this.target.name}/${path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    if (this.target.ns) url.searchParams.set("ns", this.target.ns);
    return url.href;
  }

  pingUrl(): string {
    const url = new URL(`${this.target.origin}/v2/`);
    if (this.target.ns) url.searchParams.set("ns", this.target.ns);
    return url.href;
  }

  /** One request to the proxy, logged. */
  async send(url: string, init: RequestInit = {}): Promise<Response> {
    const response = await callWorker(url, init, this.env);
    this.log.push(`${init.method ?? "GET"} ${url} → ${response.status}`);
    return response;
  }

  /** `GET /v2/`, then a token when the answer is a Bearer challenge (what `docker pull` does first). */
  async login(): Promise<Response> {
    const ping = await this.send(this.pingUrl());
    this.pinged = true;
    const challenge = ping.headers.get("www-authenticate");
    if (ping.status === 401 && challenge && /^bearer\s/i.test(challenge)) {
      await this.authenticate(challenge);
    }
    return ping;
  }

  /**
   * The token dance: GET the challenge's realm with its service and this repository's pull scope
   * (Docker adds the challenge's scope as well when it names another). Reads `token` or `access_token`.
   */
  async authenticate(challenge: string): Promise<void> {
    const params = Object.fromEntries(
      [...challenge.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/gi)].map((m) => [
        m[1]!.toLowerCase(),
        m[2]!,
      ]),
    );
    expect(params.realm, `challenge without realm: ${challenge}`).toBeDefined();
    const realm = new URL(params.realm!);
    expect(realm.origin, `the realm must be the proxy's own: ${challenge}`).toBe(
      this.target.origin,
    );
    if (params.service) realm.searchParams.set("service", params.service);
    const scopes = new Set([`repository:${this.target.name}:pull`]);
    if (params.scope && params.scope.startsWith("repository:")) scopes.add(params.scope);
    for (const scope of scopes) realm.searchParams.append("scope", scope);
    const response = await this.send(realm.href);
    expect(response.status, `token request ${realm.href}: ${await explain(response)}`).toBe(200);
    const body = (await response.json()) as { token?: string; access_token?: string };
    this.token = body.token ?? body.access_token;
    expect(this.token, "the token endpoint gave no token").toBeTruthy();
  }

  /**
   * A repository request as Docker makes it: with the token, and on a Bearer 401 one new token and
   * one retry.
   */
  async request(
    url: string,
    init: { method?: string; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const attempt = () =>
      this.send(url, {
        method: init.method ?? "GET",
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...init.headers,
        },
      });
    const first = await attempt();
    const challenge = first.headers.get("www-authenticate");
    if (first.status !== 401 || !challenge || !/^bearer\s/i.test(challenge)) return first;
    await first.body?.cancel();
    await this.authenticate(challenge);
    return attempt();
  }

  manifest(reference: string, method: "GET" | "HEAD" = "GET"): Promise<Response> {
    return this.request(this.url(`manifests/${reference}`), {
      method,
      headers: this.accept === null ? {} : { accept: this.accept },
    });
  }

  blob(
    digest: string,
    method: "GET" | "HEAD" = "GET",
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return this.request(this.url(`blobs/${digest}`), { method, headers });
  }

  /**
   * Pulls `reference` and everything under it: the ping and token dance first, HEAD by tag (Docker needs Docker-Content-Digest and
   * Content-Length), GET, each listed manifest by digest, each config and layer, all verified.
   */
  async pull(reference: string): Promise<PullReport> {
    if (!this.pinged) await this.login();
    const head = await this.manifest(reference, "HEAD");
    expect(head.status, `HEAD manifest ${reference}: ${await explain(head)}`).toBe(200);
    const headDigest = head.headers.get("docker-content-digest");
    expect(headDigest, "HEAD carries Docker-Content-Digest").toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(head.headers.get("content-length"), "HEAD carries Content-Length").toMatch(/^\d+$/);

    const root = await this.fetchManifest(reference);
    expect(root.digest, "GET and HEAD agree on the digest").toBe(headDigest);
    const report: PullReport = {
      root: root.digest,
      rootType: root.mediaType,
      manifests: [root.digest],
      blobs: [],
    };
    const images = [root];
    for (const child of root.json.manifests ?? []) {
      const manifest = await this.fetchManifest(child.digest);
      expect(manifest.mediaType, `manifest ${child.digest} has the type its index says`).toBe(
        child.mediaType,
      );
      expect(manifest.size).toBe(child.size);
      report.manifests.push(manifest.digest);
      images.push(manifest);
    }
    for (const image of images) {
      for (const d of [image.json.config, ...(image.json.layers ?? [])]) {
        if (!d) continue;
        const response = await this.blob(d.digest);
        expect(response.status, `GET blob ${d.digest}: ${await explain(response)}`).toBe(200);
        const bytes = new Uint8Array(await response.arrayBuffer());
        expect(await sha256(bytes), `blob ${d.digest}: the bytes' sha256`).toBe(d.digest);
        expect(bytes.length).toBe(d.size);
        report.blobs.push(d.digest);
      }
    }
    return report;
  }

  private async fetchManifest(reference: string) {
    const response = await this.manifest(reference, "GET");
    expect(response.status, `GET manifest ${reference}: ${await explain(response)}`).toBe(200);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const digest = response.headers.get("docker-content-digest") ?? "";
    const mediaType = response.headers.get("content-type") ?? "";
    const json = JSON.parse(new TextDecoder().decode(bytes)) as {
      mediaType?: string;
      manifests?: Descriptor[];
      config?: Descriptor;
      layers?: Descriptor[];
    };
    if (mediaType !== MediaType.schema1) {
      expect(
        await sha256(bytes),
        `manifest ${reference}: Docker-Content-Digest is the body's sha256`,
      ).toBe(digest);
      if (json.mediaType)
        expect(mediaType, "Content-Type is the manifest's mediaType").toBe(json.mediaType);
    }
    if (reference.startsWith("sha256:")) expect(digest).toBe(reference);
    return { digest, mediaType, json, size: bytes.length };
  }
}
