/**
 * Image references as people write them (`nginx`, `ghcr.io/org/app:v1`, `registry.k8s.io/pause@sha256:…`),
 * normalised as Docker does (distribution's `reference.ParseNormalizedNamed`): a first component
 * with a dot or a colon, or `localhost`, names the registry, else it is Docker Hub; Docker Hub's
 * one-component names are `library/`; no tag and no digest means `latest`.
 *
 * Self-contained on purpose (no imports, no closures over module state): the help page's script
 * runs this very function in the browser, from its source.
 */

/** A normalised image reference. */
export interface ImageReference {
  /** `docker.io`, `ghcr.io`, `registry.k8s.io`, `localhost:5000`. */
  registry: string;
  /** The repository on that registry: `library/nginx`, `org/app`. */
  repository: string;
  /** The tag, when the reference names one (or names neither tag nor digest: `latest`). */
  tag?: string;
  /** The digest, when the reference names one. */
  digest?: string;
}

/** Parses and normalises a reference; undefined when it is not one. */
export function parseImageReference(text: string): ImageReference | undefined {
  const input = text.trim();
  const component = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
  const grammar = new RegExp(
    "^(?:((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?)/)?" +
      `(${component}(?:/${component})*)` +
      "(?::([\\w][\\w.-]{0,127}))?" +
      "(?:@([a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}))?$",
  );
  const m = grammar.exec(input);
  if (!m) return undefined;
  let registry = m[1];
  let path = m[2]!;
  // "nginx/tool" parsed its first component as a registry only if it looks like one.
  if (registry && !registry.includes(".") && !registry.includes(":") && registry !== "localhost") {
    path = `${registry}/${path}`;
    registry = undefined;
    if (!new RegExp(`^${component}(?:/${component})*$`).test(path)) return undefined;
  }
  registry = (registry ?? "docker.io").toLowerCase();
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = "docker.io";
  if (registry === "docker.io" && !path.includes("/")) path = `library/${path}`;
  if (path.length > 255) return undefined;
  const tag = m[3];
  const digest = m[4];
  return {
    registry,
    repository: path,
    ...(tag || !digest ? { tag: tag ?? "latest" } : {}),
    ...(digest ? { digest } : {}),
  };
}
