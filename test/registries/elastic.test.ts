// docker.elastic.co through the proxy, against its replica (registries.md §11).
import { describe, expect, it } from "vitest";
import { ELASTIC, ELASTIC_AUTH, elastic } from "../replicas/elastic";
import { Client, target } from "./client";
import { expectImage, registrySuite, useReplica } from "./suite";

registrySuite("docker.elastic.co", (world) => elastic(world));

describe("docker.elastic.co quirks", () => {
  const ctx = useReplica((world) => elastic(world));

  it("the token comes in access_token only, without expires_in: the proxy pulls with it", async () => {
    const image = ctx.replica.images[0]!;
    expectImage(
      await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag),
      image,
    );
    expect(ctx.world.net.to(ELASTIC_AUTH, /^\/auth$/).length).toBeGreaterThan(0);
    const sent = ctx.world.net.to(ELASTIC, /manifests/).map((s) => s.headers.authorization ?? "");
    expect(sent.every((a) => /^Bearer ey/.test(a))).toBe(true);
  });
});
