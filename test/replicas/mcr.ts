/** mcr.microsoft.com replica (registries.md §8): no auth at all, blobs on a regional data endpoint. */

import { serveBytes } from "../helpers/fake-registry";
import { buildImage, LINUX_AMD64, LINUX_ARM64 } from "./content";
import { Catalog, ociError } from "./distribution";
import { blobsOf, expectFrom, hexOf, registryHandler, type Replica } from "./registry";
import type { World } from "./world";

export const MCR = "mcr.microsoft.com";
export const MCR_DATA = "eastus.data.mcr.microsoft.com";
/** The hex id that leads the data endpoint's path (registries.md §8 [T]). */
const DATA_ID = "42012bb2682a4d76ba7fa17a9d9a9162";

export interface McrOptions {
  /** registries.md §8 "Egress spikes → 429" [D]. */
  egressLimited?: boolean;
}

export async function mcr(
  world: World,
  options: McrOptions = {},
): Promise<Replica & { options: McrOptions }> {
  const runtime = await buildImage({
    seed: "mcr.microsoft.com/dotnet/runtime",
    format: "docker",
    platforms: [LINUX_AMD64, LINUX_ARM64],
  });
  const mssql = await buildImage({
    seed: "mcr.microsoft.com/mssql/server",
    format: "docker",
    platforms: [LINUX_AMD64],
    layerSizes: [6144],
  });
  const catalog = new Catalog();
  const tags = ["8.0", "8.0-bookworm-slim", "8.0.8", "9.0", "9.0-preview", "latest"];
  catalog.add("dotnet/runtime", runtime, ...tags);
  catalog.add("mssql/server", mssql, "2022-latest");
  // registries.md §8 "No Accept → schema 1 (fsLayers)" [T]; with an Accept, unknown: assumed distribution.
  const negotiation = { rule: "schema1-without-accept" } as const;
  const blobs = blobsOf([runtime, mssql]);
  const dataPath = (digest: string) =>
    `/${DATA_ID}//docker/registry/v2/blobs/sha256/${hexOf(digest).slice(0, 2)}/${hexOf(digest)}/data`;

  const state = { ...options };
  const egress = () =>
    state.egressLimited
      ? // unknown in registries.md: the 429's body and headers; assumed distribution's TOOMANYREQUESTS.
        ociError(429, "TOOMANYREQUESTS", "Too many requests. Please retry later.", null, {
          "retry-after": "30",
        })
      : undefined;

  world.serve(
    MCR,
    "registry",
    registryHandler({
      catalog,
      negotiation,
      // registries.md §8 "API": tags/list is public [R]; unknown: paging (assumed distribution's).
      paging: { link: "relative" },
      // registries.md §8 "Ping. GET /v2/ → 200, body {}, no auth" [R].
      ping: () => new Response("{}", { headers: { "content-type": "application/json" } }),
      authorize: () => egress(),
      // registries.md §8 "Blob. Redirect (status code unknown; 307 likely [I])" to the data
      // endpoint with `//` in the path [T].
      blob: (_request, blob) =>
        new Response(null, {
          status: 307,
          headers: { location: `https://${MCR_DATA}${dataPath(blob.digest)}` },
        }),
    }),
  );

  world.serve(MCR_DATA, "storage", (request, url) => {
    const m =
      /^\/[0-9a-f]{32}\/\/docker\/registry\/v2\/blobs\/sha256\/[0-9a-f]{2}\/([0-9a-f]{64})\/data$/.exec(
        url.pathname,
      );
    const blob = m ? blobs.get(`sha256:${m[1]}`) : undefined;
    // The path must arrive exactly as given, `//` included (registries.md §8 [T]).
    if (!blob)
      return new Response("The resource you are looking for has been removed.", { status: 404 });
    // unknown in registries.md: signature and Authorization tolerance (assumed neither checked).
    return serveBytes(request, blob.bytes, {
      "content-type": "application/octet-stream",
      "x-azure-ref": "20261201T000000Z-r1abcdef",
    });
  });

  return {
    registry: "mcr.microsoft.com",
    route: "mcr",
    hosts: [MCR, MCR_DATA],
    images: [
      { repository: "dotnet/runtime", tag: "8.0", image: runtime },
      { repository: "mssql/server", tag: "2022-latest", image: mssql },
    ],
    paged: { repository: "dotnet/runtime", tags },
    missingRepository: "dotnet/does-not-exist",
    expectManifest: expectFrom(catalog, negotiation),
    options: state,
  };
}
