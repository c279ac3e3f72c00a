/** What one isolate keeps while it serves a deployment: the parsed configuration and what it learned from upstreams. */

import { parseConfig, type Config, type ConfigVars } from "./config";
import { CredentialRotation } from "./upstream-credentials";
import { UpstreamAuth } from "./upstream-auth";

/** Per-isolate state. Nothing here is shared across isolates, and nothing needs to be. */
export interface Isolate {
  readonly config: Config;
  /** Upstream challenges and tokens, learned once and reused. */
  readonly auth: UpstreamAuth;
  /** Whose turn it is among the owner's credentials, and which ones rest. */
  readonly rotation: CredentialRotation;
}

const isolates = new WeakMap<object, Isolate>();

/**
 * The state for `env`: workerd hands every request of an isolate the same `env` object, so this
 * is built once per isolate (and a test's fresh `env` gets a fresh one). Throws ConfigError.
 */
export function isolateFor(env: ConfigVars): Isolate {
  let isolate = isolates.get(env);
  if (!isolate) {
    const config = parseConfig(env);
    isolate = {
      config,
      auth: new UpstreamAuth(config.timeoutMs),
      rotation: new CredentialRotation(),
    };
    isolates.set(env, isolate);
  }
  return isolate;
}
