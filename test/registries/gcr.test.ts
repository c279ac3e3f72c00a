// gcr.io through the proxy, against its replica (registries.md §3).
import { describe, expect, it } from "vitest";
import { GCS, gcr } from "../replicas/gcr";
import { Client, explain, target } from "./client";
import { expectImage, loggedIn, registrySuite, useReplica } from "./suite";

registrySuite("gcr.io", (world) => gcr(world));

describe("gcr.io quirks", () => {
  const ctx = useReplica((world) => gcr(world));

  it("gcr's bare 401 (no WWW-Authenticate) on a repository reaches the client with the proxy's challenge", async () => {
    const client = await loggedIn(ctx, "distroless/does-not-exist");
    const response = await client.manifest("latest");
    expect(response.status, await explain(response)).toBe(401);
    const challenge = response.headers.get("www-authenticate") ?? "";
    expect(challenge).toMatch(/^Bearer realm="https:\/\/gcr\.example\.com\/v2\/auth"/);
    expect(challenge).toContain('scope="repository:distroless/does-not-exist:pull"');
  });

  it("blobs follow the 302 (JSON body) to the public GCS bucket, which never sees Authorization", async () => {
    const image = ctx.replica.images[0]!;
    expectImage(
      await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag),
      image,
    );
    const requests = ctx.world.net.to(GCS);
    expect(requests.length).toBe(image.image.blobs.length);
    expect(requests.every((s) => s.headers.authorization === undefined)).toBe(true);
    expect(requests.every((s) => s.url.includes("/containers/images/sha256:"))).toBe(true);
  });

  it("tags/list keeps gcr's extra child and manifest maps", async () => {
    const client = await loggedIn(ctx, ctx.replica.paged.repository);
    const response = await client.request(client.url("tags/list"));
    const body = (await response.json()) as { tags: string[]; child?: unknown; manifest?: unknown };
    expect(body.tags).toEqual([...ctx.replica.paged.tags].sort());
    expect(body.child).toEqual([]);
    expect(Object.keys(body.manifest as object)).toHaveLength(1);
  });
});
