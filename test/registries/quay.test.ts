// quay.io through the proxy, against its replica (registries.md §2).
import { describe, expect, it } from "vitest";
import { MediaType } from "../replicas/content";
import { QUAY_CDN, QUAY_S3, quay } from "../replicas/quay";
import { Client, explain, target } from "./client";
import { expectImage, loggedIn, ociErrorOf, registrySuite, useReplica } from "./suite";

registrySuite("quay.io", (world) => quay(world));

describe("quay.io quirks", () => {
  // Clients bring their own credentials through an open proxy only with TOKEN_SECRET set.
  const ctx = useReplica((world) => quay(world), { TOKEN_SECRET: "replica-token-secret-0123" });

  it("quay's 401 ping (text/html, body `true`) reaches the client as the proxy's JSON challenge", async () => {
    const client = new Client(ctx.env, target(ctx.replica, "prometheus/node-exporter", "host"));
    const ping = await client.send(client.pingUrl());
    expect(ping.status).toBe(401);
    expect(ping.headers.get("www-authenticate")).toBe(
      'Bearer realm="https://quay.example.com/v2/auth",service="quay.io"',
    );
    expect((await ociErrorOf(ping)).code).toBe("UNAUTHORIZED");
  });

  it("a client without Accept gets quay's schema 1 fallback by tag, passed through untouched", async () => {
    const image = ctx.replica.images[0]!;
    const client = await loggedIn(ctx, image.repository, "host", null);
    const response = await client.manifest(image.tag);
    expect(response.status, await explain(response)).toBe(200);
    expect(response.headers.get("content-type")).toBe(MediaType.schema1);
    const expected = await ctx.replica.expectManifest(image.repository, image.tag, null);
    expect(expected.ok && response.headers.get("docker-content-digest")).toBe(
      expected.ok && expected.manifest.digest,
    );
  });

  it("a missing repository: quay's 401 (not 404) becomes the proxy's challenge with the repository's scope", async () => {
    const client = await loggedIn(ctx, "prometheus/does-not-exist");
    const response = await client.manifest("latest");
    expect(response.status, await explain(response)).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(
      'Bearer realm="https://quay.example.com/v2/auth",service="quay.io",scope="repository:prometheus/does-not-exist:pull"',
    );
  });

  it("blob GETs follow quay's 302 (HTML body) to CloudFront and to S3, which refuses Authorization", async () => {
    const image = ctx.replica.images[0]!;
    expectImage(
      await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag),
      image,
    );
    for (const host of [QUAY_CDN, QUAY_S3]) {
      const requests = ctx.world.net.to(host);
      expect(requests.length, `${host} was used`).toBeGreaterThan(0);
      expect(
        requests.every((s) => s.headers.authorization === undefined),
        host,
      ).toBe(true);
    }
  });

  it("tags/list: quay's absolute Link (n first) comes back as a proxy path", async () => {
    const client = await loggedIn(ctx, ctx.replica.paged.repository);
    const response = await client.request(client.url("tags/list", { n: "2" }));
    expect(response.headers.get("link")).toBe(
      '</v2/prometheus/node-exporter/tags/list?n=2&last=master>; rel="next"',
    );
  });

  it("bad Basic credentials: quay's refusal reaches the client as 401 UNAUTHORIZED, credentials only at quay's realm", async () => {
    const client = new Client(ctx.env, target(ctx.replica, "prometheus/node-exporter", "host"));
    const response = await client.send(
      "https://quay.example.com/v2/auth?service=quay.io&scope=repository:prometheus/node-exporter:pull",
      { headers: { authorization: `Basic ${btoa("someone:wrong")}` } },
    );
    expect(response.status, await explain(response)).toBe(401);
    expect((await ociErrorOf(response)).code).toBe("UNAUTHORIZED");
  });
});
