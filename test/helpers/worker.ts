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
