// nvcr.io through the proxy, against its replica (registries.md §9).
import { describe, expect, it } from "vitest";
import { NVCR, nvcr } from "../replicas/nvcr";
import { ACCEPT, Client, explain, target } from "./client";
import { expectImage, registrySuite, useReplica } from "./suite";

registrySuite("nvcr.io", (world) => nvcr(world));

describe("nvcr.io quirks", () => {
  const ctx = useReplica((world) => nvcr(world));

  it("a challenge without service: the proxy's has none either, and the token dance works", async () => {
    const client = new Client(ctx.env, target(ctx.replica, "nvidia/k8s-device-plugin", "host"));
    const ping = await client.login();
    expect(ping.headers.get("www-authenticate")).toBe(
      'Bearer realm="https://nvcr.example.com/v2/auth"',
    );
    expect(client.token).toBeTruthy();
    const image = ctx.replica.images[0]!;
    expectImage(await client.pull(image.tag), image);
    const tokenRequests = ctx.world.net.to(NVCR, /^\/proxy_auth$/);
    expect(tokenRequests.every((s) => !new URL(s.url).searchParams.get("service"))).toBe(true);
  });

  it("when nvcr's token expires (its realm then points at authn.nvidia.com), the client's next request still succeeds", async () => {
    const [multi, single] = ctx.replica.images;
    const client = new Client(ctx.env, target(ctx.replica, multi!.repository, "host"));
    await client.pull(multi!.tag);
    ctx.world.expireTokens(NVCR);
    // The client's token is the proxy's, still valid: one request, no retry.
    const response = await client.send(client.url(`manifests/${multi!.tag}`), {
      method: "HEAD",
      headers: { authorization: `Bearer ${client.token}`, accept: ACCEPT.all },
    });
    expect(response.status, await explain(response)).toBe(200);
    const other = new Client(ctx.env, target(ctx.replica, single!.repository, "host"));
    other.token = client.token;
    expectImage(await other.pull(single!.tag), single!);
  });
});
