// registry.k8s.io through the proxy, against its replica (registries.md §5): archeio's 307s to a
// regional Artifact Registry and to the blob bucket.
import { describe, expect, it } from "vitest";
import { AR, K8S, K8S_BUCKET, registryK8s } from "../replicas/k8s";
import { ACCEPT, Client, explain, target } from "./client";
import { MediaType } from "../replicas/content";
import { expectImage, registrySuite, useReplica } from "./suite";

registrySuite("registry.k8s.io", (world) => registryK8s(world));

// The same suite against an Artifact Registry that serves public content without a token (what
// registries.md §3 reports for 2021): separates AR's 2026 challenge from every other quirk.
registrySuite("registry.k8s.io, AR without token", (world) =>
  registryK8s(world, { arRequiresToken: false }),
);

describe("registry.k8s.io quirks", () => {
  const ctx = useReplica((world) => registryK8s(world));

  it("GET /v2/ is 200 without a token: Docker pulls with no token dance at all", async () => {
    const client = new Client(ctx.env, target(ctx.replica, "pause", "host"));
    const ping = await client.login();
    expect(ping.status).toBe(200);
    expect(client.token).toBeUndefined();
    const image = ctx.replica.images[0]!;
    expectImage(await client.pull(image.tag), image);
  });

  it("archeio's 307 to Artifact Registry, AR's Bearer challenge on the redirected request: the manifest arrives", async () => {
    const client = new Client(ctx.env, target(ctx.replica, "pause", "host"));
    await client.login();
    const response = await client.send(client.url("manifests/3.10"), {
      headers: { accept: "application/vnd.docker.distribution.manifest.list.v2+json" },
    });
    expect(response.status, await explain(response)).toBe(200);
    expect(response.headers.get("docker-content-digest")).toBe(
      ctx.replica.images[0]!.image.root.digest,
    );
    // registry.k8s.io itself never gets a token; AR only ever gets AR's own.
    expect(ctx.world.net.to(K8S).every((s) => s.headers.authorization === undefined)).toBe(true);
  });

  it("blobs: the bucket (literal sha256: path, refuses Authorization) and AR's relative 302 both deliver", async () => {
    const image = ctx.replica.images[0]!;
    const client = new Client(ctx.env, target(ctx.replica, "pause", "host"));
    await client.login();
    for (const blob of image.image.blobs) {
      const response = await client.blob(blob.digest);
      expect(response.status, `${blob.digest}: ${await explain(response)}`).toBe(200);
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(blob.bytes);
    }
    expect(ctx.world.net.to(K8S_BUCKET).length).toBeGreaterThan(0);
    expect(ctx.world.net.to(AR, /^\/artifacts-downloads\//).length).toBeGreaterThan(0);
  });
});

describe("registry.k8s.io with a tokenless AR: the redirect paths alone", () => {
  const ctx = useReplica((world) => registryK8s(world, { arRequiresToken: false }));

  it("blobs: the bucket (literal sha256: path, refuses Authorization) and AR's relative 302 both deliver", async () => {
    const image = ctx.replica.images[0]!;
    const client = new Client(ctx.env, target(ctx.replica, "pause", "host"));
    await client.login();
    for (const blob of image.image.blobs) {
      const response = await client.blob(blob.digest);
      expect(response.status, `${blob.digest}: ${await explain(response)}`).toBe(200);
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(blob.bytes);
    }
    expect(ctx.world.net.to(K8S_BUCKET).length).toBeGreaterThan(0);
    expect(ctx.world.net.to(AR, /^\/artifacts-downloads\//).length).toBeGreaterThan(0);
    expect(
      ctx.world.net.to(K8S_BUCKET).every((s) => s.url.includes("/containers/images/sha256:")),
    ).toBe(true);
  });

  it("the client's Accept survives archeio's 307 to Artifact Registry", async () => {
    const client = new Client(ctx.env, target(ctx.replica, "pause", "host"));
    await client.login();
    const response = await client.manifest("3.10");
    const seen = ctx.world.net.to(AR, /\/manifests\//).map((s) => s.headers.accept ?? "(none)");
    expect(seen, "Accept as Artifact Registry received it").toEqual([ACCEPT.all]);
    expect(response.status, await explain(response)).toBe(200);
    expect(response.headers.get("content-type")).toBe(MediaType.dockerList);
  });

  it("tags/list?n=2 keeps its query across archeio's 307, which drops it (registries.md §5)", async () => {
    const client = new Client(ctx.env, target(ctx.replica, "pause", "host"));
    const response = await client.request(client.url("tags/list", { n: "2" }));
    expect(response.status, await explain(response)).toBe(200);
    const upstream = ctx.world.net.to(AR, /\/tags\/list$/);
    expect(upstream.map((s) => new URL(s.url).search)).toEqual(["?n=2"]);
  });
});
