/** nvcr.io replica (registries.md §9): registry and proxy_auth on nvcr.io, and authn.nvidia.com after expiry. */

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

export const NVCR = "nvcr.io";
export const NVIDIA_AUTHN = "authn.nvidia.com";

export async function nvcr(world: World): Promise<Replica> {
  world.trust(NVCR, NVCR);
  const plugin = await buildImage({
    seed: "nvcr.io/nvidia/k8s-device-plugin",
    format: "docker",
    platforms: [LINUX_AMD64, LINUX_ARM64],
  });
  const exporter = await buildImage({
    seed: "nvcr.io/nvidia/k8s/dcgm-exporter",
    format: "docker",
    platforms: [LINUX_AMD64],
  });
  const catalog = new Catalog();
  const tags = ["v0.15.0", "v0.15.1", "v0.16.0", "v0.16.1", "v0.16.2", "v0.16.2-ubi9"];
  catalog.add("nvidia/k8s-device-plugin", plugin, ...tags);
  catalog.add("nvidia/k8s/dcgm-exporter", exporter, "3.3.7-3.5.0-ubuntu22.04");
  // unknown in registries.md: nvcr.io's Accept handling; assumed distribution's.
  const negotiation = { rule: "distribution" } as const;

  // registries.md §9 "No service on repo challenges" [T]: realm and scope only.
  const unauthorized = (name: string) =>
    ociError(401, "UNAUTHORIZED", "authentication required", null, {
      "www-authenticate": bearer([
        ["realm", "https://nvcr.io/proxy_auth"],
        ["scope", `repository:${name}:pull`],
      ]),
    });

  world.serve(
    NVCR,
    "registry",
    registryHandler({
      catalog,
      negotiation,
      // unknown in registries.md: paging; assumed distribution's.
      paging: { link: "relative" },
      routes(_request, url) {
        if (url.pathname !== "/proxy_auth") return undefined;
        // registries.md §9 "Token" [T]: service empty or omitted, anonymous → {"token":…}, a JWT
        // of 600 s. "Private repo → 403 from proxy_auth" [T]; a missing one is assumed the same.
        const names = requestedScopes(url).map(pullScopeName);
        if (names.some((n) => n === undefined || !catalog.get(n))) {
          return ociError(403, "DENIED", "access denied");
        }
        return Response.json({ token: world.mint(NVCR, names as string[], 600) });
      },
      // registries.md §9 "Ping" [T]: 401, nginx HTML, realm only, later with scope="".
      ping: () =>
        new Response(
          "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
          {
            status: 401,
            headers: {
              "content-type": "text/html",
              "www-authenticate": 'Bearer realm="https://nvcr.io/proxy_auth",scope=""',
            },
          },
        ),
      authorize(request, name) {
        const auth = world.authorization(request, NVCR);
        // registries.md §9 "After expiry the 401 names a different realm: authn.nvidia.com/token,
        // service="registry", error="invalid_token"" [R][T].
        if (auth.kind === "expired") {
          return ociError(401, "UNAUTHORIZED", "authentication required", null, {
            "www-authenticate": bearer([
              ["realm", `https://${NVIDIA_AUTHN}/token`],
              ["service", "registry"],
              ["scope", `repository:${name}:pull`],
              ["error", "invalid_token"],
            ]),
          });
        }
        if (auth.kind === "bearer" && auth.grant.repositories.includes(name)) return undefined;
        return unauthorized(name);
      },
      // unknown in registries.md: the blob redirect target; assumed served by nvcr.io itself.
    }),
  );

  // registries.md §9: "Anonymous refresh there fails with 401" [R].
  world.serve(NVIDIA_AUTHN, "token", () =>
    Response.json(
      { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] },
      { status: 401 },
    ),
  );

  return {
    registry: "nvcr.io",
    route: "nvcr",
    hosts: [NVCR, NVIDIA_AUTHN],
    images: [
      { repository: "nvidia/k8s-device-plugin", tag: "v0.16.2", image: plugin },
      { repository: "nvidia/k8s/dcgm-exporter", tag: "3.3.7-3.5.0-ubuntu22.04", image: exporter },
    ],
    paged: { repository: "nvidia/k8s-device-plugin", tags },
    missingRepository: "nvidia/does-not-exist",
    expectManifest: expectFrom(catalog, negotiation),
  };
}
