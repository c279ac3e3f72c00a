/** The owner's repository policy (ALLOW / BLOCK): which repositories this proxy serves. */

import type { Config } from "./config";
import { RegistryError } from "./errors";
import type { RepositoryTarget } from "./routing";

/**
 * Throws DENIED unless the repository may be served: BLOCK wins, and when ALLOW is set the name
 * must match it. Names are registry-qualified (`docker.io/library/nginx`), whatever routing mode
 * named them.
 */
export function checkPolicy(config: Config, target: RepositoryTarget): void {
  if (!config.allow.length && !config.block.length) return;
  const name = `${target.upstream.name}/${target.repository}`;
  if (config.block.some((glob) => glob.test(name))) {
    throw new RegistryError("DENIED", "this repository is blocked on this proxy", { name });
  }
  if (config.allow.length && !config.allow.some((glob) => glob.test(name))) {
    throw new RegistryError("DENIED", "this repository is not on this proxy's allow list", {
      name,
    });
  }
}
