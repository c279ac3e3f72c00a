/** A fake upstream world for integration tests: registries, token servers and CDNs on made-up hosts, counting every call. */

import { vi } from "vitest";

type Handler = (request: Request, url: URL) => Response | Promise<Response>;

/** One request the fake saw, with the headers it carried. */
export interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/**
 * Replaces `fetch` for the duration of a test. Hosts are registered with handlers; a request to
 * any other host is recorded in `unexpected` and fails like a refused connection.
 */
export class FakeNet {
  readonly seen: Seen[] = [];
  readonly unexpected: string[] = [];
  private readonly hosts = new Map<string, Handler>();

  constructor() {
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const request = new Request(input as RequestInfo, init as RequestInit);
      const url = new URL(request.url);
      this.seen.push({
        method: request.method,
        url: request.url,
        headers: Object.fromEntries(request.headers),
      });
      const handler = this.hosts.get(url.host);
      if (!handler) {
        this.unexpected.push(request.url);
        throw new TypeError(`fake network: connection refused to ${url.host}`);
      }
      return handler(request, url);
    });
  }

  /** Serves `host` with `handler`. */
  on(host: string, handler: Handler): this {
    this.hosts.set(host, handler);
    return this;
  }

  /** Requests seen for a host, optionally only those whose path matches. */
  to(host: string, path?: RegExp): Seen[] {
    return this.seen.filter((s) => {
      const url = new URL(s.url);
      return url.host === host && (!path || path.test(url.pathname));
    });
  }
}

/** The manifest types Docker and containerd accept, as they send them. */
export const MANIFEST_ACCEPT = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ");

/** Content of a fake repository: manifests by tag and blobs by digest. */
export interface FakeImage {
  manifest: string;
  manifestDigest: string;
  blob: Uint8Array;
  blobDigest: string;
}

/** Builds an image whose digests are real sha256 digests of its bytes; `blobSize` sets the layer size. */
export async function makeImage(seed = "layer", blobSize = 6000): Promise<FakeImage> {
  const pattern = new TextEncoder().encode(`${seed}:`);
  const blob = new Uint8Array(blobSize).map((_, i) => pattern[i % pattern.length]!);
  const blobDigest = await sha256(blob);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: blobDigest,
      size: blob.length,
    },
    layers: [],
  });
  return {
    manifest,
    manifestDigest: await sha256(new TextEncoder().encode(manifest)),
    blob,
    blobDigest,
  };
}

export async function sha256(data: Uint8Array): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return `sha256:${[...hash].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export interface FakeRegistryOptions {
  /** Registry host, e.g. `registry-1.docker.io`. */
  host: string;
  /** Token server host; omit for a registry without auth (registry.k8s.io). */
  authHost?: string;
  service?: string;
  /** Blob GETs answer 307 to this host, like Docker Hub's CDN. */
  cdnHost?: string;
  /** Repositories and their `latest` image. */
  repositories: Record<string, FakeImage>;
  /** Repositories that need credentials. */
  privateRepositories?: string[];
  /** Accounts of the token server; default `alice:wonderland`. */
  users?: Record<string, string>;
}

/**
 * A registry that behaves like Docker Hub: bearer challenges on every endpoint, tokens scoped
 * to repositories, blobs redirected to a CDN that honours Range.
 */
export function fakeRegistry(net: FakeNet, options: FakeRegistryOptions): void {
  const {
    host,
    authHost,
    service = host,
    cdnHost,
    repositories,
    users = { alice: "wonderland" },
  } = options;
  const isPrivate = (repo: string) => options.privateRepositories?.includes(repo) ?? false;
  const challenge = (scope?: string) =>
    `Bearer realm="https://${authHost}/token",service="${service}"${scope ? `,scope="${scope}"` : ""}`;
  const blobs = new Map(Object.values(repositories).map((i) => [i.blobDigest, i.blob]));

  const tokenServer: Handler = (request, url) => {
    const scopes = url.searchParams.getAll("scope");
    const credentials = request.headers.get("authorization");
    const user = Object.entries(users).find(
      ([u, p]) => credentials === `Basic ${btoa(`${u}:${p}`)}`,
    )?.[0];
    if (credentials && !user) {
      return Response.json({ details: "incorrect username or password" }, { status: 401 });
    }
    const granted = scopes.filter((s) => {
      const repo = s.split(":")[1] ?? "";
      return repo in repositories && (!isPrivate(repo) || user);
    });
    const token = `token:${user ?? "anon"}:${granted.join(" ")}`; // scopes ride in the token
    return Response.json({ token, access_token: token, expires_in: 300 });
  };
  if (authHost && authHost !== host) net.on(authHost, tokenServer);

  net.on(host, (request, url) => {
    if (authHost === host && url.pathname === "/token") return tokenServer(request, url);
    if (url.pathname === "/v2/") {
      // Any token of its own token server is good for the version check (`docker login`).
      const signedIn = /^Bearer token:/.test(request.headers.get("authorization") ?? "");
      return authHost && !signedIn
        ? new Response("{}", { status: 401, headers: { "www-authenticate": challenge() } })
        : new Response("{}");
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs|tags)\/(.+)$/.exec(url.pathname);
    if (!m) return new Response("404 page not found", { status: 404 });
    const [, repo, kind, ref] = m as unknown as [string, string, string, string];
    const image = repositories[repo];
    const scope = `repository:${repo}:pull`;
    const granted = (request.headers.get("authorization") ?? "")
      .replace(/^Bearer token:\w+:/, "")
      .split(" ");
    if (authHost && !granted.includes(scope)) {
      return Response.json(
        { errors: [{ code: "UNAUTHORIZED", message: "authentication required", detail: null }] },
        { status: 401, headers: { "www-authenticate": challenge(scope) } },
      );
    }
    if (!image)
      return Response.json(
        { errors: [{ code: "NAME_UNKNOWN", message: "repository name not known to registry" }] },
        { status: 404 },
      );
    if (kind === "tags") {
      return Response.json(
        { name: repo, tags: ["latest"] },
        {
          headers: { link: `</v2/${repo}/tags/list?last=latest&n=1>; rel="next"` },
        },
      );
    }
    if (kind === "manifests") {
      if (ref !== "latest" && ref !== image.manifestDigest) {
        return Response.json(
          { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] },
          { status: 404 },
        );
      }
      const headers = {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "docker-content-digest": image.manifestDigest,
        "content-length": String(image.manifest.length),
        etag: `"${image.manifestDigest}"`,
      };
      return new Response(request.method === "HEAD" ? null : image.manifest, { headers });
    }
    // Like a real registry, a repository serves only its own blobs (the CDN serves any by digest).
    if (image.blobDigest !== ref)
      return Response.json(
        { errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown" }] },
        { status: 404 },
      );
    if (cdnHost) {
      return new Response(null, {
        status: 307,
        headers: { location: `https://${cdnHost}/blobs/${ref}?sig=secret` },
      });
    }
    return serveBytes(request, blobs.get(ref)!, { "docker-content-digest": ref });
  });

  if (cdnHost) {
    net.on(cdnHost, (request, url) => {
      const digest = url.pathname.replace("/blobs/", "");
      const bytes = blobs.get(digest);
      if (!bytes)
        return new Response("<Error><Code>NoSuchKey</Code></Error>", {
          status: 404,
          headers: { "content-type": "application/xml" },
        });
      return serveBytes(request, bytes, {});
    });
  }
}

/**
 * Serves bytes as CDNs and registries treat Range (RFC 9110 §14.2, as S3 does): one `bytes=`
 * range, suffix ranges included, is honoured (206); an unsatisfiable one is answered 416 with
 * `Content-Range: bytes *` and the size; anything else (bad syntax, other units, several ranges,
 * last < first) is ignored and the whole body sent (200).
 */
export function serveBytes(
  request: Request,
  bytes: Uint8Array,
  headers: Record<string, string>,
): Response {
  const size = bytes.length;
  const range = byteRange(request.headers.get("range"), size);
  if (range === "unsatisfiable") {
    return new Response("<Error><Code>InvalidRange</Code></Error>", {
      status: 416,
      headers: { "content-type": "application/xml", "content-range": `bytes */${size}` },
    });
  }
  const [start, end] = range ?? [0, size - 1];
  const part = range ? bytes.slice(start, end + 1) : bytes;
  return new Response(request.method === "HEAD" ? null : part, {
    status: range ? 206 : 200,
    headers: {
      "content-type": "application/octet-stream",
      "accept-ranges": "bytes",
      ...headers,
      ...(range ? { "content-range": `bytes ${start}-${end}/${size}` } : {}),
      "content-length": String(part.length),
    },
  });
}

/** The first and last byte a Range asks for; undefined for a Range to ignore. */
function byteRange(
  header: string | null,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  const m = header === null ? null : /^bytes=(\d*)-(\d*)$/.exec(header);
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    // A suffix: the last N bytes.
    const suffix = Number(m[2]);
    return suffix === 0 ? "unsatisfiable" : [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  if (m[2] !== "" && Number(m[2]) < start) return undefined; // an invalid range-spec
  if (start >= size) return "unsatisfiable";
  return [start, m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1)];
}
