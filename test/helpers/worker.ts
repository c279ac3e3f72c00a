/** Calling the Worker inside workerd as the runtime would, for integration tests. */

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import worker, { type Bindings } from "../../src/index";

/** Env for one test: a fresh cache namespace, so nothing one test cached is seen by another. */
export function testEnv(overrides: Partial<Bindings> = {}): Bindings {
  return {
    DEFAULT_ROUTE: "docker",
    UPSTREAMS: "",
    UPSTREAM_TIMEOUT_MS: "1000",
    CACHE_NAMESPACE: crypto.randomUUID(),
    ...overrides,
  };
}

const variants = new WeakMap<Bindings, Map<string, Bindings>>();

/**
 * `env` with some vars replaced, as one deployment: the same overrides give the same object, so
 * the Worker keeps its per-isolate state across calls as workerd does (it hands every request of
 * an isolate the same `env`).
 */
export function envWith(env: Bindings, overrides: Partial<Bindings>): Bindings {
  if (Object.keys(overrides).length === 0) return env;
  let byOverrides = variants.get(env);
  if (!byOverrides) variants.set(env, (byOverrides = new Map()));
  const key = JSON.stringify(
    Object.entries(overrides).map(([k, v]) => [k, typeof v === "object" ? "binding" : v]),
  );
  let variant = byOverrides.get(key);
  if (!variant) byOverrides.set(key, (variant = { ...env, ...overrides }));
  return variant;
}

/** Sends one request to the Worker and waits for its background work (cache fills) to finish. */
export async function callWorker(url: string, init: RequestInit, env: Bindings): Promise<Response> {
  const request = new Request(url, init) as Request<unknown, IncomingRequestCfProperties>;
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** Asserts an OCI error body with one error and returns it. */
export async function errorOf(
  response: Response,
): Promise<{ code: string; message: string; detail: unknown }> {
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await response.json()) as {
    errors: Array<{ code: string; message: string; detail: unknown }>;
  };
  expect(body.errors).toHaveLength(1);
  return body.errors[0]!;
}
