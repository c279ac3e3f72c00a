// ghcr.io through the proxy, against its replica (registries.md §6).
import { describe, expect, it } from "vitest";
import { GHCR, GHCR_BLOBS, ghcr } from "../replicas/ghcr";
import { ACCEPT, Client, explain, target } from "./client";
import { expectImage, loggedIn, ociErrorOf, registrySuite, useReplica } from "./suite";

registrySuite("ghcr.io", (world) => ghcr(world));

describe("ghcr.io quirks", () => {
  const ctx = useReplica((world) => ghcr(world));

  it("ghcr's placeholder scope (user/image) on the ping does not reach the client", async () => {
    const client = new Client(ctx.env, target(ctx.replica, "fluxcd/source-controller", "host"));
    const ping = await client.send(client.pingUrl());
    expect(ping.headers.get("www-authenticate")).toBe(
      'Bearer realm="https://ghcr.example.com/v2/auth",service="ghcr.io"',
    );
  });

  it("a token without expires_in is fetched once for a whole pull", async () => {
    const image = ctx.replica.images[0]!;
    expectImage(
      await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag),
      image,
    );
    expect(ctx.world.net.to(GHCR, /^\/token$/)).toHaveLength(1);
  });

  it("strict Accept: ghcr's 404 for an index a Docker-only client cannot take comes through with its message", async () => {
    const image = ctx.replica.images[0]!;
    const client = await loggedIn(ctx, image.repository, "host", ACCEPT.schema2);
    const response = await client.manifest(image.tag);
    expect(response.status, await explain(response)).toBe(404);
    const error = await ociErrorOf(response);
    expect(error.code).toBe("MANIFEST_UNKNOWN");
    expect(error.message).toBe("OCI index found, but Accept header does not support OCI indexes");
  });

  it("blobs follow the 307 to the Azure SAS host with the SAS query intact and no Authorization", async () => {
    const image = ctx.replica.images[0]!;
    expectImage(
      await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag),
      image,
    );
    const requests = ctx.world.net.to(GHCR_BLOBS);
    expect(requests.length).toBe(image.image.blobs.length);
    expect(requests.every((s) => new URL(s.url).searchParams.has("sig"))).toBe(true);
    expect(requests.every((s) => s.headers.authorization === undefined)).toBe(true);
  });

  it("a missing package (ghcr refuses the anonymous token with 401): 401 with the proxy's challenge", async () => {
    const client = await loggedIn(ctx, "fluxcd/does-not-exist");
    const response = await client.send(client.url("manifests/latest"), {
      headers: { authorization: `Bearer ${client.token}`, accept: ACCEPT.all },
    });
    expect(response.status, await explain(response)).toBe(401);
    expect(response.headers.get("www-authenticate") ?? "", await explain(response)).toMatch(
      /^Bearer realm="https:\/\/ghcr\.example\.com\/v2\/auth"/,
    );
  });
});
