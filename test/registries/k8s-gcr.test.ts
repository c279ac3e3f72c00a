// k8s.gcr.io through the proxy, against its replica (registries.md §4): every request a 302 to
// registry.k8s.io, which 307s on to Artifact Registry or the blob bucket (§5).
import { describe, expect, it } from "vitest";
import { K8S, K8S_GCR, k8sGcr } from "../replicas/k8s";
import { Client, target } from "./client";
import { expectImage, registrySuite, useReplica } from "./suite";

registrySuite("k8s.gcr.io", (world) => k8sGcr(world));

registrySuite("k8s.gcr.io, AR without token", (world) => k8sGcr(world, { arRequiresToken: false }));

describe("k8s.gcr.io quirks", () => {
  const ctx = useReplica((world) => k8sGcr(world, { arRequiresToken: false }));

  it("the ping follows k8s.gcr.io's 302 to registry.k8s.io's 200: no token dance", async () => {
    const client = new Client(ctx.env, target(ctx.replica, "pause", "host"));
    expect((await client.login()).status).toBe(200);
    expect(client.token).toBeUndefined();
  });

  it("a pull takes k8s.gcr.io → registry.k8s.io → AR / bucket, three hosts deep", async () => {
    const image = ctx.replica.images[0]!;
    expectImage(
      await new Client(ctx.env, target(ctx.replica, "pause", "host")).pull(image.tag),
      image,
    );
    expect(ctx.world.net.to(K8S_GCR).length).toBeGreaterThan(0);
    expect(ctx.world.net.to(K8S).length).toBeGreaterThan(0);
  });
});
