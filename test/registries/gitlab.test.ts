// registry.gitlab.com through the proxy, against its replica (registries.md §10).
import { describe, expect, it } from "vitest";
import { GITLAB_AUTH, GITLAB_CDN, gitlab } from "../replicas/gitlab";
import { Client, explain, target } from "./client";
import { expectImage, ociErrorOf, registrySuite, useReplica } from "./suite";

registrySuite("registry.gitlab.com", (world) => gitlab(world));

describe("registry.gitlab.com quirks", () => {
  // Clients bring their own credentials through an open proxy only with TOKEN_SECRET set.
  const ctx = useReplica((world) => gitlab(world), { TOKEN_SECRET: "replica-token-secret-0123" });

  it("bogus Basic credentials: gitlab.com answers 401 even for a public project, so docker login fails", async () => {
    const client = new Client(ctx.env, target(ctx.replica, "gitlab-org/gitlab-runner", "host"));
    const response = await client.send(
      "https://gitlab.example.com/v2/auth?service=container_registry&scope=repository:gitlab-org/gitlab-runner:pull",
      { headers: { authorization: `Basic ${btoa("someone:wrong")}` } },
    );
    expect(response.status, await explain(response)).toBe(401);
    expect((await ociErrorOf(response)).code).toBe("UNAUTHORIZED");
    expect(ctx.world.net.to(GITLAB_AUTH).map((s) => s.headers.authorization)).toEqual([
      `Basic ${btoa("someone:wrong")}`,
    ]);
  });

  it("blobs follow the 307 to the signed CDN URL; a signature ending in `=` survives", async () => {
    const image = ctx.replica.images[0]!;
    expectImage(
      await new Client(ctx.env, target(ctx.replica, image.repository, "host")).pull(image.tag),
      image,
    );
    const requests = ctx.world.net.to(GITLAB_CDN);
    expect(requests.length).toBe(image.image.blobs.length);
    expect(requests.every((s) => new URL(s.url).searchParams.get("Signature")?.endsWith("="))).toBe(
      true,
    );
  });
});
