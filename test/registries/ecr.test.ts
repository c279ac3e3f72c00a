// public.ecr.aws through the proxy, against its replica (registries.md §7).
import { describe, expect, it } from "vitest";
import { ECR_CDN, ecrPublic } from "../replicas/ecr-public";
import { Client, explain, target } from "./client";
import { largest, loggedIn, registrySuite, useReplica } from "./suite";

registrySuite("public.ecr.aws", (world) => ecrPublic(world));

describe("public.ecr.aws quirks", () => {
  const ctx = useReplica((world) => ecrPublic(world));

  it('ECR\'s scope="aws" on the ping does not reach the client', async () => {
    const client = new Client(ctx.env, target(ctx.replica, "nginx/nginx", "host"));
    const ping = await client.send(client.pingUrl());
    expect(ping.headers.get("www-authenticate")).toBe(
      'Bearer realm="https://ecr.example.com/v2/auth",service="public.ecr.aws"',
    );
  });

  it("blob HEAD, which ECR answers 401 even with a valid token: the client gets 200 with length and digest", async () => {
    const image = ctx.replica.images[0]!;
    const layer = largest(image);
    const client = await loggedIn(ctx, image.repository);
    const head = await client.send(client.url(`blobs/${layer.digest}`), {
      method: "HEAD",
      headers: { authorization: `Bearer ${client.token}` },
    });
    expect(head.status, await explain(head)).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(layer.bytes.length));
    expect(head.headers.get("docker-content-digest")).toBe(layer.digest);
  });

  it("Range: bytes=0-0 on a blob: 206 from CloudFront", async () => {
    const image = ctx.replica.images[0]!;
    const layer = largest(image);
    const client = await loggedIn(ctx, image.repository);
    const response = await client.blob(layer.digest, "GET", { range: "bytes=0-0" });
    expect(response.status, await explain(response)).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes 0-0/${layer.bytes.length}`);
    expect(ctx.world.net.to(ECR_CDN).map((s) => s.headers.range)).toEqual(["bytes=0-0"]);
  });
});
