/**
 * docker.cloudsmith.io replica (registries.md §12: ping, realm, token fields and blob target are
 * ALL unknown; no public source). Everything below is an assumption: a plain distribution registry
 * with token auth on its own host, the most common setup.
 */

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

export const CLOUDSMITH = "docker.cloudsmith.io";

export async function cloudsmith(world: World): Promise<Replica> {
  world.trust(CLOUDSMITH, CLOUDSMITH);
  const cli = await buildImage({
    seed: "docker.cloudsmith.io/acme/tools/cli",
    format: "oci",
    platforms: [LINUX_AMD64, LINUX_ARM64],
  });
  const agent = await buildImage({
    seed: "docker.cloudsmith.io/acme/tools/agent",
    format: "docker",
    platforms: [LINUX_AMD64],
  });
  const catalog = new Catalog();
  const tags = ["2.0.0", "2.0.1", "2.1.0", "2.1.0-rc1", "latest", "stable"];
  catalog.add("acme/tools/cli", cli, ...tags);
  catalog.add("acme/tools/agent", agent, "1.0.0");
  // unknown in registries.md: assumed distribution's Accept handling.
  const negotiation = { rule: "distribution" } as const;
  // unknown in registries.md: assumed a realm on the registry host and service = the host.
  const challenge = (name?: string) =>
    bearer([
      ["realm", "https://docker.cloudsmith.io/v2/token"],
      ["service", CLOUDSMITH],
      ["scope", name ? `repository:${name}:pull` : undefined],
    ]);
  const unauthorized = (name?: string) =>
    ociError(401, "UNAUTHORIZED", "authentication required", null, {
      "www-authenticate": challenge(name),
    });

  world.serve(
    CLOUDSMITH,
    "registry",
    registryHandler({
      catalog,
      negotiation,
      // unknown in registries.md: assumed distribution's paging.
      paging: { link: "relative" },
      routes(_request, url) {
        if (url.pathname !== "/v2/token") return undefined;
        // unknown in registries.md: assumed distribution's token server reply (token and
        // access_token, expires_in, issued_at), downscoped for repositories it does not have.
        const granted = requestedScopes(url)
          .map(pullScopeName)
          .filter((n): n is string => n !== undefined && catalog.get(n) !== undefined);
        const token = world.mint(CLOUDSMITH, granted, 300);
        return Response.json({
          token,
          access_token: token,
          expires_in: 300,
          issued_at: new Date().toISOString(),
        });
      },
      ping: () => unauthorized(),
      authorize(request, name) {
        const auth = world.authorization(request, CLOUDSMITH);
        if (auth.kind === "bearer" && auth.grant.repositories.includes(name)) return undefined;
        return unauthorized(name);
      },
      // unknown in registries.md: the blob target; assumed served by the registry itself.
    }),
  );

  return {
    registry: "docker.cloudsmith.io",
    route: "cloudsmith",
    hosts: [CLOUDSMITH],
    images: [
      { repository: "acme/tools/cli", tag: "2.1.0", image: cli },
      { repository: "acme/tools/agent", tag: "1.0.0", image: agent },
    ],
    paged: { repository: "acme/tools/cli", tags },
    missingRepository: "acme/tools/does-not-exist",
    expectManifest: expectFrom(catalog, negotiation),
  };
}
