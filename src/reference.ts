/** The distribution-spec grammar for repository names, tags and digests, checked before any upstream request. */

import { RegistryError } from "./errors";

// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests
const PATH_COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
const NAME = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
// algorithm ":" encoded; the registered algorithms have fixed lengths of lowercase hex.
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const REGISTERED_ALGORITHMS = new Map([
  ["sha256", /^[a-f0-9]{64}$/],
  ["sha512", /^[a-f0-9]{128}$/],
]);

/** distribution rejects names longer than this (registry host included); so do we. */
export const MAX_NAME_LENGTH = 255;

/** True when `name` is a repository name the spec allows. */
export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

/** True when `tag` is a valid tag. */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** True when `digest` is well formed and, for sha256/sha512, of the right length. */
export function isValidDigest(digest: string): boolean {
  if (digest.length > 256 || !DIGEST.test(digest)) return false;
  const [algorithm, encoded] = digest.split(":", 2) as [string, string];
  const rule = REGISTERED_ALGORITHMS.get(algorithm);
  return rule ? rule.test(encoded) : false;
}

/** True when a manifest reference is a digest rather than a tag. */
export function isDigest(reference: string): boolean {
  return reference.includes(":");
}

/** Throws NAME_INVALID unless `name` is valid. */
export function assertName(name: string): void {
  if (!isValidName(name)) {
    throw new RegistryError("NAME_INVALID", "invalid repository name", { name: truncate(name) });
  }
}

/** Throws DIGEST_INVALID unless `digest` is a valid digest. */
export function assertDigest(digest: string): void {
  if (!isValidDigest(digest)) {
    throw new RegistryError("DIGEST_INVALID", "invalid digest", { digest: truncate(digest) });
  }
}

/** Keeps hostile input out of error bodies at a bounded size. */
export function truncate(value: string, max = 128): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
