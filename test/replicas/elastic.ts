/** docker.elastic.co replica (registries.md §11): registry and its token service on docker-auth.elastic.co. */

import { buildImage, LINUX_AMD64, LINUX_ARM64 } from "./content";
import { bearer, Catalog, ociError } from "./distribution";
import {
  expectFrom,
  pullScopeName,
  registryHandler,
  requestedScopes,
  type Replica,
} from "./registry";
import type { World } from "./world";

export const ELASTIC = "docker.elastic.co";
export const ELASTIC_AUTH = "docker-auth.elastic.co";

export async function elastic(world: World): Promise<Replica> {
  world.trust(ELASTIC_AUTH, ELASTIC);
  const elasticsearch = await buildImage({
    seed: "docker.elastic.co/elasticsearch/elasticsearch",
    format: "docker",
    platforms: [LINUX_AMD64, LINUX_ARM64],
  });
  const filebeat = await buildImage({
    seed: "docker.elastic.co/beats/filebeat",
    format: "docker",
    platforms: [LINUX_AMD64],
  });
  const catalog = new Catalog();
  const tags = ["8.14.3", "8.15.0", "8.15.1", "8.15.2", "8.16.0", "9.0.0-beta1"];
  catalog.add("elasticsearch/elasticsearch", elasticsearch, ...tags);
  catalog.add("beats/filebeat", filebeat, "8.15.0");
  // unknown in registries.md: Accept handling; assumed distribution's.
  const negotiation = { rule: "distribution" } as const;

  // registries.md §11 "Challenge and token" [R][S]: realm docker-auth.elastic.co/auth, service
  // token-service. unknown: the 401 body (assumed distribution's) and the repository scope on it.
  const challenge = (name?: string) =>
    bearer([
      ["realm", "https://docker-auth.elastic.co/auth"],
      ["service", "token-service"],
      ["scope", name ? `repository:${name}:pull` : undefined],
    ]);

  world.serve(
    ELASTIC,
    "registry",
    registryHandler({
      catalog,
      negotiation,
      // unknown in registries.md: paging; assumed distribution's.
      paging: { link: "relative" },
      ping: () =>
        ociError(401, "UNAUTHORIZED", "authentication required", null, {
          "www-authenticate": challenge(),
        }),
      authorize(request, name) {
        const auth = world.authorization(request, ELASTIC);
        if (auth.kind === "bearer" && auth.grant.repositories.includes(name)) return undefined;
        return ociError(401, "UNAUTHORIZED", "authentication required", null, {
          "www-authenticate": challenge(name),
        });
      },
      // unknown in registries.md: the blob target; assumed served by the registry itself.
    }),
  );

  world.serve(ELASTIC_AUTH, "token", (_request, url) => {
    if (url.pathname !== "/auth") return new Response("Not Found", { status: 404 });
    // registries.md §11 [R]: the token is in `access_token` (not `token`), with no expires_in.
    // unknown: the lifetime and a missing repository's grant (assumed 5 min, and none).
    const granted = requestedScopes(url)
      .map(pullScopeName)
      .filter((n): n is string => n !== undefined && catalog.get(n) !== undefined);
    return Response.json({ access_token: world.mint(ELASTIC_AUTH, granted, 300) });
  });

  return {
    registry: "docker.elastic.co",
    route: "elastic",
    hosts: [ELASTIC, ELASTIC_AUTH],
    images: [
      { repository: "elasticsearch/elasticsearch", tag: "8.15.0", image: elasticsearch },
      { repository: "beats/filebeat", tag: "8.15.0", image: filebeat },
    ],
    paged: { repository: "elasticsearch/elasticsearch", tags },
    missingRepository: "elasticsearch/does-not-exist",
    expectManifest: expectFrom(catalog, negotiation),
  };
}
