/**
 * Image content for the replicas: multi-arch indexes (OCI image index or Docker manifest list),
 * single-platform images and Docker schema 1 manifests, every digest the real sha256 of its bytes.
 */

import { sha256 } from "../helpers/fake-registry";

export const MediaType = {
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar+gzip",
  inToto: "application/vnd.in-toto+json",
  schema1: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** Bytes addressed by their digest. */
export interface Content {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Uint8Array;
}

/** A stored manifest: an index of manifests, or an image manifest with its config and layers. */
export interface Manifest extends Content {
  readonly kind: "index" | "image" | "schema1";
  /** Index: the manifests it lists. */
  readonly children: readonly Descriptor[];
  /** Image: config then layers. */
  readonly blobs: readonly Descriptor[];
  readonly platform?: Platform;
}

/** One image: its root manifest (what a tag points at), every manifest under it, every blob. */
export interface Image {
  readonly root: Manifest;
  readonly manifests: readonly Manifest[];
  readonly blobs: readonly Content[];
}

export type Format = "oci" | "docker";

const encoder = new TextEncoder();

async function content(bytes: Uint8Array, mediaType: string): Promise<Content> {
  return { digest: await sha256(bytes), mediaType, bytes };
}

/** Deterministic bytes that look like a gzip stream (magic number first), a few KiB. */
export function layerBytes(seed: string, size: number): Uint8Array {
  let state = 2166136261;
  for (const c of seed) state = Math.imul(state ^ c.charCodeAt(0), 16777619) >>> 0;
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[i] = state & 0xff;
  }
  bytes[0] = 0x1f;
  bytes[1] = 0x8b;
  return bytes;
}

function descriptor(c: Content, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType: c.mediaType, digest: c.digest, size: c.bytes.length, ...extra };
}

/** Docker tools write manifests indented by three spaces; BuildKit writes OCI ones compact. */
function encode(format: Format, value: unknown): Uint8Array {
  return encoder.encode(
    format === "docker" ? JSON.stringify(value, null, 3) : JSON.stringify(value),
  );
}

async function platformImage(
  seed: string,
  format: Format,
  platform: Platform,
  layerSizes: readonly number[],
): Promise<{ manifest: Manifest; blobs: Content[] }> {
  const layerType = format === "oci" ? MediaType.ociLayer : MediaType.dockerLayer;
  const layers = await Promise.all(
    layerSizes.map((size, i) =>
      content(layerBytes(`${seed}/${platform.architecture}/layer${i}`, size), layerType),
    ),
  );
  const config = await content(
    encoder.encode(
      JSON.stringify({
        architecture: platform.architecture,
        ...(platform.variant ? { variant: platform.variant } : {}),
        os: platform.os,
        created: "2026-08-14T09:30:00Z",
        config: {
          Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
          Cmd: [`/usr/bin/${seed.split("/").pop()}`],
        },
        rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
        history: layers.map((_, i) => ({
          created: "2026-08-14T09:30:00Z",
          created_by: `RUN step ${i} # buildkit`,
        })),
      }),
    ),
    format === "oci" ? MediaType.ociConfig : MediaType.dockerConfig,
  );
  const mediaType = format === "oci" ? MediaType.ociManifest : MediaType.dockerManifest;
  const blobs = [descriptor(config), ...layers.map((l) => descriptor(l))];
  const bytes = encode(format, {
    schemaVersion: 2,
    mediaType,
    config: blobs[0],
    layers: blobs.slice(1),
  });
  return {
    manifest: {
      ...(await content(bytes, mediaType)),
      kind: "image",
      children: [],
      blobs,
      platform,
    },
    blobs: [config, ...layers],
  };
}

/** BuildKit's provenance attestation: an OCI manifest with one in-toto layer, listed as unknown/unknown. */
async function attestation(
  seed: string,
  subject: Manifest,
): Promise<{ manifest: Manifest; blobs: Content[] }> {
  const statement = await content(
    encoder.encode(
      JSON.stringify({
        _type: "https://in-toto.io/Statement/v0.1",
        predicateType: "https://slsa.dev/provenance/v0.2",
        subject: [{ name: seed, digest: { sha256: subject.digest.slice(7) } }],
      }),
    ),
    MediaType.inToto,
  );
  const config = await content(
    encoder.encode(
      JSON.stringify({
        architecture: "unknown",
        os: "unknown",
        rootfs: { type: "layers", diff_ids: [statement.digest] },
      }),
    ),
    MediaType.ociConfig,
  );
  const blobs = [
    descriptor(config),
    descriptor(statement, {
      annotations: { "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2" },
    }),
  ];
  const bytes = encode("oci", {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: blobs[0],
    layers: blobs.slice(1),
  });
  return {
    manifest: {
      ...(await content(bytes, MediaType.ociManifest)),
      kind: "image",
      children: [],
      blobs,
      platform: { architecture: "unknown", os: "unknown" },
    },
    blobs: [config, statement],
  };
}

export interface ImageSpec {
  /** Names the image and seeds its bytes. */
  seed: string;
  format: Format;
  /** One platform and `index: false` makes a single-platform image; otherwise an index. */
  platforms: readonly Platform[];
  index?: boolean;
  /** BuildKit provenance attestations in the index (OCI only). */
  attestations?: boolean;
  /** Layer sizes in bytes; a few KiB each. */
  layerSizes?: readonly number[];
}

export const LINUX_AMD64: Platform = { architecture: "amd64", os: "linux" };
export const LINUX_ARM64: Platform = { architecture: "arm64", os: "linux", variant: "v8" };

/** Builds an image with real digests throughout. */
export async function buildImage(spec: ImageSpec): Promise<Image> {
  const sizes = spec.layerSizes ?? [3072, 5120];
  const index = spec.index ?? spec.platforms.length > 1;
  const images = await Promise.all(
    spec.platforms.map((p) => platformImage(spec.seed, spec.format, p, sizes)),
  );
  if (!index) {
    const only = images[0]!;
    return { root: only.manifest, manifests: [only.manifest], blobs: only.blobs };
  }
  const parts = [...images];
  if (spec.attestations) {
    for (const image of images) parts.push(await attestation(spec.seed, image.manifest));
  }
  const children = parts.map((part, i) => {
    const isAttestation = i >= images.length;
    return descriptor(part.manifest, {
      platform: part.manifest.platform,
      ...(isAttestation
        ? {
            annotations: {
              "vnd.docker.reference.digest": images[i - images.length]!.manifest.digest,
              "vnd.docker.reference.type": "attestation-manifest",
            },
          }
        : {}),
    });
  });
  const mediaType = spec.format === "oci" ? MediaType.ociIndex : MediaType.dockerList;
  const bytes = encode(spec.format, { schemaVersion: 2, mediaType, manifests: children });
  const root: Manifest = {
    ...(await content(bytes, mediaType)),
    kind: "index",
    children,
    blobs: [],
  };
  const blobs = new Map<string, Content>();
  for (const part of parts) for (const b of part.blobs) blobs.set(b.digest, b);
  return { root, manifests: [root, ...parts.map((p) => p.manifest)], blobs: [...blobs.values()] };
}

/**
 * A signed Docker schema 1 manifest for an image manifest, as quay.io and mcr.microsoft.com still
 * serve to clients whose Accept lacks the stored type. Its digest, like a real one, is the sha256 of
 * the payload without the signatures (libtrust's "pretty JWS"), so it is not the sha256 of the bytes.
 */
export async function schema1(
  name: string,
  tag: string,
  image: Manifest,
  config: Content,
): Promise<Manifest> {
  const parsed = JSON.parse(new TextDecoder().decode(config.bytes)) as { architecture: string };
  const layers = image.blobs.slice(1);
  const payload = JSON.stringify(
    {
      schemaVersion: 1,
      name,
      tag,
      architecture: parsed.architecture,
      fsLayers: [...layers].reverse().map((l) => ({ blobSum: l.digest })),
      history: [...layers].reverse().map((l, i, all) => ({
        v1Compatibility: JSON.stringify({
          id: l.digest.slice(7, 71),
          ...(all[i + 1] ? { parent: all[i + 1]!.digest.slice(7, 71) } : {}),
          architecture: parsed.architecture,
        }),
      })),
    },
    null,
    3,
  );
  const signatures = `,\n   "signatures": [\n      {\n         "header": {\n            "jwk": {\n               "crv": "P-256",\n               "kty": "EC"\n            },\n            "alg": "ES256"\n         },\n         "signature": "c2lnbmF0dXJl",\n         "protected": "eyJmb3JtYXRMZW5ndGgiOjB9"\n      }\n   ]\n}`;
  const signed = payload.slice(0, -2) + signatures;
  return {
    digest: await sha256(encoder.encode(payload)),
    mediaType: MediaType.schema1,
    bytes: encoder.encode(signed),
    kind: "schema1",
    children: [],
    blobs: [descriptor(config), ...layers],
    platform: image.platform,
  };
}
