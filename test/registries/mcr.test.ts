// mcr.microsoft.com through the proxy, against its replica (registries.md §8).
import { describe, expect, it } from "vitest";
import { MediaType } from "../replicas/content";
import { MCR, MCR_DATA, mcr } from "../replicas/mcr";
import { Client, explain, target } from "./client";
import { expectImage, loggedIn, ociErrorOf, registrySuite, useReplica } from "./suite";

registrySuite("mcr.microsoft.com", (world) => mcr(world));

describe("mcr.microsoft.com quirks", () => {
  const ctx = useReplica((world) => mcr(world));

  it("GET /v2/ is 200 `{}`: no token dance, and no Authorization anywhere upstream", async () => {
    const image = ctx.replica.images[0]!;
    const client = new Client(ctx.env, target(ctx.replica, image.repository, "host"));
    expect((await client.login()).status).toBe(200);
    expectImage(await client.pull(image.tag), image);
    expect(ctx.world.net.seen.every((s) => s.headers.authorization === undefined)).toBe(true);
  });

  it("a client without Accept gets mcr's schema 1 by tag", async () => {
    const image = ctx.replica.images[0]!;
    const client = await loggedIn(ctx, image.repository, "host", null);
    const response = await client.manifest(image.tag);
    expect(response.status, await explain(response)).toBe(200);
    expect(response.headers.get("content-type")).toBe(MediaType.schema1);
  });

  it("the blob redirect keeps the `//` in the data endpoint's path", async () => {
    const image = ctx.replica.images[1]!;
    expectImage(
      await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag),
      image,
    );
    const paths = ctx.world.net.to(MCR_DATA).map((s) => new URL(s.url).pathname);
    expect(paths.length).toBeGreaterThan(0);
    expect(paths.every((p) => p.includes("//docker/registry/v2/blobs/"))).toBe(true);
  });

  it("egress limit: mcr's 429 reaches the client as TOOMANYREQUESTS with Retry-After", async () => {
    const image = ctx.replica.images[0]!;
    const client = await loggedIn(ctx, image.repository);
    ctx.replica.options.egressLimited = true;
    const response = await client.manifest(image.tag);
    expect(response.status, await explain(response)).toBe(429);
    expect(response.headers.get("retry-after")).toBe("30");
    expect((await ociErrorOf(response)).code).toBe("TOOMANYREQUESTS");
    expect(ctx.world.net.to(MCR, /manifests/).length).toBeGreaterThan(0);
  });
});
