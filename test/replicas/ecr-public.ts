/** public.ecr.aws replica (registries.md §7): registry and token endpoint on public.ecr.aws, blobs behind CloudFront. */

import { serveBytes } from "../helpers/fake-registry";
import { buildImage, LINUX_AMD64, LINUX_ARM64 } from "./content";
import { bearer, Catalog, ociError } from "./distribution";
import {
  blobsOf,
  expectFrom,
  pullScopeName,
  registryHandler,
  requestedScopes,
  xmlError,
  type Replica,
} from "./registry";
import type { World } from "./world";

export const ECR = "public.ecr.aws";
export const ECR_CDN = "d2glxqk2uabbnd.cloudfront.net";

export async function ecrPublic(world: World): Promise<Replica> {
  world.trust(ECR, ECR);
  const nginx = await buildImage({
    seed: "public.ecr.aws/nginx/nginx",
    format: "docker",
    platforms: [LINUX_AMD64, LINUX_ARM64],
  });
  const provided = await buildImage({
    seed: "public.ecr.aws/lambda/provided",
    format: "oci",
    platforms: [LINUX_AMD64],
  });
  const catalog = new Catalog();
  const tags = ["1.26", "1.27", "1.27-alpine", "1.27.1", "latest", "stable"];
  catalog.add("nginx/nginx", nginx, ...tags);
  catalog.add("lambda/provided", provided, "al2023");
  // unknown in registries.md: ECR Public's Accept handling; assumed distribution's.
  const negotiation = { rule: "distribution" } as const;
  const blobs = blobsOf([nginx, provided]);

  // registries.md §7 "Ping/401" [T]: JSON; charset=utf-8, 58 bytes, scope="aws".
  // unknown in registries.md: the body text and whether repository 401s use the same challenge
  // (assumed they do).
  const challenge = bearer([
    ["realm", "https://public.ecr.aws/token/"],
    ["service", "public.ecr.aws"],
    ["scope", "aws"],
  ]);
  const unauthorized = () =>
    new Response('{"errors":[{"code":"DENIED","message":"Not Authorized"}]}\n', {
      status: 401,
      headers: { "content-type": "application/json; charset=utf-8", "www-authenticate": challenge },
    });

  world.serve(
    ECR,
    "registry",
    registryHandler({
      catalog,
      negotiation,
      // unknown in registries.md: ECR Public's paging; assumed distribution's.
      paging: { link: "relative" },
      routes(_request, url) {
        if (url.pathname !== "/token/" && url.pathname !== "/token") return undefined;
        // registries.md §7 "Token" [T]: anonymous, scope=aws or repository scopes, {"token":…}.
        // unknown: the lifetime (assumed 12 h like GetAuthorizationToken [D]) and what a scope on
        // a missing repository gets (assumed granted: the registry then answers NAME_UNKNOWN).
        const scopes = requestedScopes(url);
        const all = scopes.includes("aws");
        const names = scopes.map(pullScopeName).filter((n): n is string => n !== undefined);
        return Response.json({ token: world.mint(ECR, all ? ["*"] : names, 43200) });
      },
      ping: unauthorized,
      authorize(request, name, endpoint) {
        const auth = world.authorization(request, ECR);
        // registries.md §7 "Authorization: Basic … on registry calls → 400 DENIED" [T].
        if (auth.kind === "basic") {
          return ociError(400, "DENIED", "Your Authorization Token is invalid.");
        }
        // registries.md §7 "Unauthenticated manifest GET → 401" [R].
        if (auth.kind !== "bearer") return unauthorized();
        const granted =
          auth.grant.repositories.includes("*") || auth.grant.repositories.includes(name);
        if (!granted) return unauthorized();
        // registries.md §7 "Blob HEAD → 401 even with a valid token, while GET works" [T].
        if (endpoint === "blobs" && request.method === "HEAD") return unauthorized();
        return undefined;
      },
      // registries.md §7 "Blob GET → 307 to CloudFront" [T]. unknown: signed or not (assumed not).
      blob: (_request, blob, name) =>
        new Response(null, {
          status: 307,
          headers: {
            location: `https://${ECR_CDN}/v2/${name}/blobs/${blob.digest}`,
            "content-length": "0",
          },
        }),
    }),
  );

  world.serve(ECR_CDN, "storage", (request, url) => {
    const m = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    const blob = m ? blobs.get(m[1]!) : undefined;
    if (!blob) return xmlError(403, "AccessDenied", "Access Denied");
    // unknown in registries.md: whether it rejects Authorization (assumed not).
    // registries.md §7 "Range honoured: bytes=0-0 → 206" [T]; server AmazonS3, x-cache [T].
    return serveBytes(request, blob.bytes, {
      "content-type": "application/octet-stream",
      server: "AmazonS3",
      "x-cache": "Hit from cloudfront",
    });
  });

  return {
    registry: "public.ecr.aws",
    route: "ecr",
    hosts: [ECR, ECR_CDN],
    images: [
      { repository: "nginx/nginx", tag: "1.27.1", image: nginx },
      { repository: "lambda/provided", tag: "al2023", image: provided },
    ],
    paged: { repository: "nginx/nginx", tags },
    missingRepository: "nginx/does-not-exist",
    expectManifest: expectFrom(catalog, negotiation),
  };
}
