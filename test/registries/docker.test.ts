// Docker Hub through the proxy, against its replica (registries.md §1).
import { describe, expect, it } from "vitest";
import {
  dockerHub,
  HUB,
  HUB_AUTH,
  HUB_AUTH_IPV6,
  HUB_CDN,
  HUB_CLOUDFRONT,
  HUB_R2,
} from "../replicas/docker-hub";
import { Client, explain, target } from "./client";
import { expectImage, loggedIn, ociErrorOf, registrySuite, useReplica } from "./suite";

registrySuite("docker.io", (world) => dockerHub(world));

describe("docker.io quirks", () => {
  const ctx = useReplica((world) => dockerHub(world));

  it("a manifest GET carries Hub's rate-limit headers to the client", async () => {
    const image = ctx.replica.images[0]!;
    const client = await loggedIn(ctx, image.repository);
    const response = await client.manifest(image.tag);
    expect(response.status, await explain(response)).toBe(200);
    expect(response.headers.get("ratelimit-limit")).toBe("100;w=21600");
    expect(response.headers.get("ratelimit-remaining")).toMatch(/^\d+;w=21600$/);
    expect(response.headers.get("docker-ratelimit-source")).toBeTruthy();
  });

  it("a warm pull costs no Docker Hub pull: manifest GETs count, the proxy's tag check is a HEAD", async () => {
    const image = ctx.replica.images[0]!;
    await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag);
    const left = ctx.replica.limit.remaining;
    expect(left, "a cold pull counts its manifest GETs").toBeLessThan(100);
    await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag);
    expect(ctx.replica.limit.remaining).toBe(left);
  });

  it("limit exhausted: a cold manifest GET answers 429 TOOMANYREQUESTS with the rate-limit headers", async () => {
    ctx.replica.limit.remaining = 0;
    const image = ctx.replica.images[0]!;
    const client = await loggedIn(ctx, image.repository);
    const response = await client.manifest(image.tag);
    expect(response.status, await explain(response)).toBe(429);
    expect(response.headers.get("ratelimit-remaining")).toBe("0;w=21600");
    expect(response.headers.get("ratelimit-limit")).toBe("100;w=21600");
    expect(response.headers.get("docker-ratelimit-source")).toBeTruthy();
    expect((await ociErrorOf(response)).code).toBe("TOOMANYREQUESTS");
  });

  it("limit exhausted after a pull: the same pull still succeeds from the cache", async () => {
    const image = ctx.replica.images[0]!;
    await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag);
    ctx.replica.limit.remaining = 0;
    expectImage(
      await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag),
      image,
    );
  });

  it("blobs on the R2 presigned host (which answers 400 to Authorization), the CDN and CloudFront all arrive", async () => {
    const image = ctx.replica.images[0]!;
    expectImage(
      await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag),
      image,
    );
    for (const host of [HUB_R2, HUB_CDN, HUB_CLOUDFRONT]) {
      const requests = ctx.world.net.to(host);
      expect(requests.length, `${host} was used`).toBeGreaterThan(0);
      expect(
        requests.map((s) => s.headers.authorization ?? null),
        host,
      ).toEqual(requests.map(() => null));
    }
  });

  it("a short name (nginx) is completed to library/nginx for the token and every path", async () => {
    const client = new Client(ctx.env, { origin: "https://docker.example.com", name: "nginx" });
    expectImage(await client.pull("1.27.1"), ctx.replica.images[0]!);
    const scopes = ctx.world.net
      .to(HUB_AUTH)
      .flatMap((s) => new URL(s.url).searchParams.getAll("scope"));
    expect(new Set(scopes)).toEqual(new Set(["repository:library/nginx:pull"]));
    const paths = ctx.world.net.to(HUB, /^\/v2\/.+/).map((s) => new URL(s.url).pathname);
    expect(
      paths.every((p) => p.startsWith("/v2/library/nginx/")),
      paths.join(" "),
    ).toBe(true);
  });

  it("containerd's token request with two scopes (library/nginx and nginx) gets a token that pulls", async () => {
    const scope = "scope=repository:library/nginx:pull&scope=repository:nginx:pull";
    const client = new Client(ctx.env, target(ctx.replica, "library/nginx", "ns"));
    const response = await client.send(
      `https://docker.example.com/v2/auth?ns=docker.io&service=registry.docker.io&${scope}`,
    );
    expect(response.status, await explain(response)).toBe(200);
    client.token = ((await response.json()) as { token: string }).token;
    expectImage(await client.pull("1.27.1"), ctx.replica.images[0]!);
  });

  it("a private repository: Hub's empty-access token and 401 reach the client as the proxy's challenge", async () => {
    const client = await loggedIn(ctx, "alice/private");
    const response = await client.manifest("latest");
    expect(response.status, await explain(response)).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(
      'Bearer realm="https://docker.example.com/v2/auth",service="registry.docker.io",scope="repository:alice/private:pull"',
    );
    expect((await ociErrorOf(response)).code).toBe("UNAUTHORIZED");
  });
});

describe("docker.io from IPv6 egress: the realm is auth.ipv6.docker.com", () => {
  const ctx = useReplica((world) => dockerHub(world, { ipv6: true }));

  it("pulls, with every upstream token from the realm Hub named", async () => {
    const image = ctx.replica.images[0]!;
    expectImage(
      await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag),
      image,
    );
    expect(ctx.world.net.to(HUB_AUTH_IPV6).length).toBeGreaterThan(0);
    expect(ctx.world.has(HUB_AUTH)).toBe(false);
  });
});
