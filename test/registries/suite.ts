/**
 * What every registry's integration test checks through the proxy, against that registry's replica:
 * pulls in each routing mode cold and warm, tags/list paging, Accept negotiation, errors, blob HEAD
 * and Range. Each `<route>.test.ts` runs this suite and adds its registry's own quirks.
 */

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Bindings } from "../../src/index";
import { sha256 } from "../helpers/fake-registry";
import { testEnv } from "../helpers/worker";
import type { ManifestAnswer } from "../replicas/distribution";
import { dockerHub } from "../replicas/docker-hub";
import type { Replica, ReplicaImage } from "../replicas/registry";
import { World } from "../replicas/world";
import { ACCEPT, Client, explain, MODES, target, type Mode, type PullReport } from "./client";

/** The state of one test: a fresh world of replicas, a fresh proxy cache namespace. */
export interface Context<R extends Replica = Replica> {
  world: World;
  replica: R;
  env: Bindings;
}

/**
 * Registers hooks that give every test a fresh world with `build`'s replica in it, plus Docker Hub
 * (the default route: a path-prefix client pings docker.example.com), and check after every test
 * that the proxy contacted no host outside the replicas and sent no Authorization where it does
 * not belong (a token to a CDN or another registry, the proxy's own token upstream).
 */
export function useReplica<R extends Replica>(
  build: (world: World) => Promise<R>,
  overrides: Partial<Bindings> = {},
): Context<R> {
  const ctx = {} as Context<R>;
  beforeEach(async () => {
    ctx.world = new World();
    ctx.replica = await build(ctx.world);
    if (ctx.replica.route !== "docker") await dockerHub(ctx.world);
    ctx.env = testEnv(overrides);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    expect(ctx.world.net.unexpected, "requests to hosts outside the replicas").toEqual([]);
    expect(ctx.world.leaks(), "Authorization sent where it does not belong").toEqual([]);
  });
  return ctx;
}

/** A client of `image` in `mode`, logged in. */
export async function loggedIn(
  ctx: Context,
  repository: string,
  mode: Mode = "host",
  accept: string | null = ACCEPT.all,
): Promise<Client> {
  const client = new Client(ctx.env, target(ctx.replica, repository, mode), accept);
  await client.login();
  return client;
}

/** Asserts a pull fetched exactly the image's manifests and blobs. */
export function expectImage(report: PullReport, image: ReplicaImage): void {
  expect(report.root).toBe(image.image.root.digest);
  expect(new Set(report.manifests)).toEqual(new Set(image.image.manifests.map((m) => m.digest)));
  expect(new Set(report.blobs)).toEqual(new Set(image.image.blobs.map((b) => b.digest)));
}

/** Upstream requests of a warm pull that the cache should have saved: any blob, any manifest GET. */
export function avoidable(requests: string[]): string[] {
  return requests.filter((r) => / blob /.test(r) || /^GET manifest /.test(r));
}

/**
 * Compares the proxy's answer to a manifest request with what the registry itself would answer the
 * same client; returns the differences.
 */
export async function compareManifest(
  response: Response,
  expected: ManifestAnswer,
  what: string,
  method: "GET" | "HEAD",
): Promise<string[]> {
  const problems: string[] = [];
  const got =
    response.status === 200
      ? `200 ${response.headers.get("content-type")} ${response.headers.get("docker-content-digest")} (${response.headers.get("x-cache")})`
      : await explain(response);
  if (expected.ok) {
    const m = expected.manifest;
    if (response.status !== 200) {
      problems.push(`${what}: upstream gives 200 ${m.mediaType}, proxy answered ${got}`);
      return problems;
    }
    const digest = response.headers.get("docker-content-digest");
    const type = response.headers.get("content-type");
    if (digest !== m.digest || type !== m.mediaType) {
      problems.push(
        `${what}: upstream gives ${m.mediaType} ${m.digest}, proxy gave ${type} ${digest}`,
      );
    }
    if (method === "GET") {
      const bytes = new Uint8Array(await response.arrayBuffer());
      if ((await sha256(bytes)) !== (await sha256(m.bytes))) {
        problems.push(`${what}: body differs from the upstream's`);
      }
    }
    return problems;
  }
  if (response.status !== expected.status) {
    problems.push(
      `${what}: upstream gives ${expected.status} ${expected.code} "${expected.message}", proxy answered ${got}`,
    );
    return problems;
  }
  if (method === "GET") {
    const body = (await response.json().catch(() => ({}))) as { errors?: Array<{ code?: string }> };
    if (body.errors?.[0]?.code !== expected.code) {
      problems.push(
        `${what}: upstream's code is ${expected.code}, proxy's ${body.errors?.[0]?.code}`,
      );
    }
  }
  return problems;
}

/** Asserts an OCI error body and returns its first error. */
export async function ociErrorOf(response: Response): Promise<{ code: string; message: string }> {
  expect(response.headers.get("content-type") ?? "", "an OCI error is JSON").toMatch(
    /^application\/json/,
  );
  const body = (await response.json()) as {
    errors?: Array<{ code: string; message: string; detail?: unknown }>;
  };
  expect(Array.isArray(body.errors) && body.errors.length > 0, "body is {errors:[…]}").toBe(true);
  const first = body.errors![0]!;
  expect(typeof first.code).toBe("string");
  expect(typeof first.message).toBe("string");
  expect(first, "each error has code, message and detail").toHaveProperty("detail");
  return first;
}

/** The image's largest blob: a layer of a few KiB. */
export function largest(image: ReplicaImage) {
  return [...image.image.blobs].sort((a, b) => b.bytes.length - a.bytes.length)[0]!;
}

const ACCEPT_CLIENTS: Array<[string, string | null]> = [
  ["Docker schema 2 only", ACCEPT.schema2],
  ["OCI only (manifest and index)", ACCEPT.oci],
  ["index-accepting (containerd's list)", ACCEPT.all],
  ["no Accept at all (curl)", null],
];

/** The shared suite for one registry. */
export function registrySuite<R extends Replica>(
  label: string,
  build: (world: World) => Promise<R>,
): void {
  describe(`${label}: pull through the proxy`, () => {
    const ctx = useReplica(build);

    it.each(MODES)(
      "GET /v2/ via %s routing: 200, or a Bearer challenge naming the proxy's /v2/auth",
      async (mode) => {
        const client = new Client(
          ctx.env,
          target(ctx.replica, ctx.replica.images[0]!.repository, mode),
        );
        const ping = await client.send(client.pingUrl());
        expect(ping.headers.get("docker-distribution-api-version")).toBe("registry/2.0");
        if (ping.status === 200) return;
        expect(ping.status, await explain(ping)).toBe(401);
        const realm = /^Bearer realm="([^"]+)"/.exec(
          ping.headers.get("www-authenticate") ?? "",
        )?.[1];
        expect(realm && new URL(realm).origin).toBe(client.target.origin);
        expect(realm && new URL(realm).pathname).toBe("/v2/auth");
        expect((await ociErrorOf(ping)).code).toBe("UNAUTHORIZED");
      },
    );

    it.each(MODES)(
      "pulls the multi-arch image via %s routing (token dance, HEAD+GET by tag, every manifest and blob), then warm",
      async (mode) => {
        const { world, replica, env } = ctx;
        const image = replica.images[0]!;
        const cold = await new Client(env, target(replica, image.repository, mode)).pull(image.tag);
        expectImage(cold, image);
        const mark = world.net.seen.length;
        const warm = await new Client(env, target(replica, image.repository, mode)).pull(image.tag);
        expectImage(warm, image);
        // Content addressed by digest is cached: a warm pull costs at most a tag check upstream.
        const upstream = world.since(mark);
        expect(avoidable(upstream), `warm pull, upstream saw: ${upstream.join(", ")}`).toEqual([]);
      },
    );

    it("pulls the single-platform image, then warm", async () => {
      const { world, replica, env } = ctx;
      const image = replica.images[1]!;
      expectImage(
        await new Client(env, target(replica, image.repository, "host")).pull(image.tag),
        image,
      );
      const mark = world.net.seen.length;
      expectImage(
        await new Client(env, target(replica, image.repository, "host")).pull(image.tag),
        image,
      );
      const upstream = world.since(mark);
      expect(avoidable(upstream), `warm pull, upstream saw: ${upstream.join(", ")}`).toEqual([]);
    });
  });

  describe(`${label}: tags/list`, () => {
    const ctx = useReplica(build);

    it.each(MODES)(
      "pages with n=3 through every tag, each Link pointing back at the proxy (%s)",
      async (mode) => {
        const { replica } = ctx;
        const client = await loggedIn(ctx, replica.paged.repository, mode);
        const path = new URL(client.url("tags/list")).pathname;
        let url: string | undefined = client.url("tags/list", { n: "3" });
        const tags: string[] = [];
        for (let page = 0; url && page < 10; page++) {
          const response = await client.request(url);
          expect(response.status, await explain(response)).toBe(200);
          const body = (await response.json()) as { name: string; tags: string[] };
          tags.push(...body.tags);
          const link = response.headers.get("link");
          url = undefined;
          if (link) {
            const m = /^<([^>]+)>;\s*rel="next"$/.exec(link);
            expect(m, `Link: ${link}`).not.toBeNull();
            const next = new URL(m![1]!, client.target.origin);
            expect(next.origin, `Link: ${link}`).toBe(client.target.origin);
            expect(next.pathname, `Link: ${link}`).toBe(path);
            expect(next.searchParams.get("last"), `Link: ${link}`).toBe(
              body.tags[body.tags.length - 1],
            );
            if (client.target.ns)
              expect(next.searchParams.get("ns"), `Link: ${link}`).toBe(client.target.ns);
            url = next.href;
          }
        }
        expect(tags).toEqual([...replica.paged.tags].sort());
      },
    );

    it("honours n: no page holds more than n tags (distribution-spec, content discovery)", async () => {
      const client = await loggedIn(ctx, ctx.replica.paged.repository);
      const response = await client.request(client.url("tags/list", { n: "2" }));
      expect(response.status, await explain(response)).toBe(200);
      const body = (await response.json()) as { tags: string[] };
      expect(body.tags).toEqual([...ctx.replica.paged.tags].sort().slice(0, 2));
      expect(response.headers.get("link") ?? "", "a Link to the next page").toMatch(/rel="next"/);
    });
  });

  describe(`${label}: Accept negotiation, as the upstream answers each client`, () => {
    const ctx = useReplica(build);
    const cases = ACCEPT_CLIENTS.flatMap(([name, accept]) =>
      (["cold", "warm"] as const).map((state) => ({ name, accept, state })),
    );

    for (const { name, accept, state } of cases)
      it(`${name} client, ${state} cache`, async () => {
        const { replica } = ctx;
        if (state === "warm") {
          // Another client (accepting everything) has pulled every image through the proxy already.
          for (const image of replica.images) {
            await new Client(ctx.env, target(replica, image.repository, "host")).pull(image.tag);
          }
        }
        const problems: string[] = [];
        for (const image of replica.images) {
          const client = await loggedIn(ctx, image.repository, "host", accept);
          const references = [image.tag, ...image.image.manifests.map((m) => m.digest)];
          for (const reference of references) {
            for (const method of ["HEAD", "GET"] as const) {
              const expected = await replica.expectManifest(image.repository, reference, accept);
              const response = await client.manifest(reference, method);
              const what = `${method} ${image.repository}:${reference}`;
              problems.push(...(await compareManifest(response, expected, what, method)));
            }
          }
        }
        expect(problems, problems.join("\n")).toEqual([]);
      });

    it("during an upstream outage, the cache serves a client only what the upstream would (never an index it did not accept)", async () => {
      const { replica, world } = ctx;
      const image = replica.images[0]!;
      await new Client(ctx.env, target(replica, image.repository, "host")).pull(image.tag);
      world.outage = true;
      const problems: string[] = [];
      for (const accept of [ACCEPT.schema2, ACCEPT.ociManifest]) {
        const client = await loggedIn(ctx, image.repository, "host", accept);
        for (const reference of [image.tag, image.image.root.digest]) {
          const expected = await replica.expectManifest(image.repository, reference, accept);
          const response = await client.manifest(reference);
          const what = `GET ${reference} with Accept ${accept}`;
          // Down, the proxy may fail (an OCI error) or answer from its cache, but only with what
          // the upstream itself would have answered this client.
          if (response.status !== 200) await ociErrorOf(response);
          else problems.push(...(await compareManifest(response, expected, what, "GET")));
        }
      }
      expect(problems, problems.join("\n")).toEqual([]);
    });
  });

  describe(`${label}: errors reach the client as OCI errors`, () => {
    const ctx = useReplica(build);

    it("unknown repository: 401 with the proxy's challenge, 403 DENIED or 404 NAME_UNKNOWN", async () => {
      const client = await loggedIn(ctx, ctx.replica.missingRepository);
      for (const method of ["GET", "HEAD"] as const) {
        const response = await client.manifest("latest", method);
        expect([401, 403, 404], `${method}: ${await explain(response)}`).toContain(response.status);
        if (response.status === 401) {
          // RFC 9110 §15.5.2: a 401 carries a challenge; it must send the client back to the proxy.
          const challenge = response.headers.get("www-authenticate") ?? "";
          expect(challenge, `${method}: ${await explain(response)}`).toMatch(
            new RegExp(`^Bearer realm="${client.target.origin.replace(/\./g, "\\.")}/v2/auth"`),
          );
        }
        if (method === "GET") {
          const code = (await ociErrorOf(response)).code;
          expect(code).toBe(
            { 401: "UNAUTHORIZED", 403: "DENIED", 404: "NAME_UNKNOWN" }[response.status],
          );
        }
      }
    });

    it("unknown tag: 404 MANIFEST_UNKNOWN", async () => {
      const client = await loggedIn(ctx, ctx.replica.images[0]!.repository);
      const response = await client.manifest("no-such-tag");
      expect(response.status, await explain(response)).toBe(404);
      expect((await ociErrorOf(response)).code).toBe("MANIFEST_UNKNOWN");
      const head = await client.manifest("no-such-tag", "HEAD");
      expect(head.status, await explain(head)).toBe(404);
    });

    it("unknown blob: 404 BLOB_UNKNOWN", async () => {
      const client = await loggedIn(ctx, ctx.replica.images[0]!.repository);
      const digest = await sha256(new TextEncoder().encode("no such blob"));
      const response = await client.blob(digest);
      expect(response.status, await explain(response)).toBe(404);
      expect((await ociErrorOf(response)).code).toBe("BLOB_UNKNOWN");
      const head = await client.blob(digest, "HEAD");
      expect(head.status, await explain(head)).toBe(404);
    });
  });

  describe(`${label}: blobs`, () => {
    const ctx = useReplica(build);

    it("HEAD answers 200 with the blob's length and digest, cold and after a GET", async () => {
      const image = ctx.replica.images[0]!;
      const layer = largest(image);
      const client = await loggedIn(ctx, image.repository);
      for (const state of ["cold", "after a GET"]) {
        const head = await client.blob(layer.digest, "HEAD");
        expect(head.status, `${state}: ${await explain(head)}`).toBe(200);
        expect(head.headers.get("content-length"), state).toBe(String(layer.bytes.length));
        expect(head.headers.get("docker-content-digest"), state).toBe(layer.digest);
        const get = await client.blob(layer.digest);
        expect(get.status, await explain(get)).toBe(200);
        await get.arrayBuffer();
      }
    });

    it("resumes with Range: bytes=N- (containerd): 206 with the tail, cold and warm", async () => {
      const image = ctx.replica.images[0]!;
      const layer = largest(image);
      const client = await loggedIn(ctx, image.repository);
      for (const state of ["cold", "warm"]) {
        const response = await client.blob(layer.digest, "GET", { range: "bytes=1000-" });
        expect(response.status, `${state}: ${await explain(response)}`).toBe(206);
        expect(response.headers.get("content-range"), state).toBe(
          `bytes 1000-${layer.bytes.length - 1}/${layer.bytes.length}`,
        );
        expect(new Uint8Array(await response.arrayBuffer())).toEqual(layer.bytes.slice(1000));
        if (state === "cold") await (await client.blob(layer.digest)).arrayBuffer();
      }
    });
  });
}
