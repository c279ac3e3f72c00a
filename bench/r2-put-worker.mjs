// The R2 baseline Worker: fetches the same path from the UPSTREAM var and puts the body into CACHE_BUCKET (no tee, no client), then answers with the stored size.
export default {
  /**
   * @param {Request} request
   * @param {{ UPSTREAM: string, CACHE_BUCKET: { put(key: string, body: ReadableStream<Uint8Array> | null): Promise<{ size: number } | null> } }} env
   */
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    const upstream = await fetch(env.UPSTREAM + pathname);
    if (!upstream.ok)
      return new Response(`upstream answered ${upstream.status}\n`, { status: 502 });
    const stored = await env.CACHE_BUCKET.put(`${pathname}@${Date.now()}`, upstream.body);
    return new Response(`${stored?.size}\n`);
  },
};
