// Experiment Worker: fetches SOURCE/blob, tees the body, answers the client with branch A and consumes branch B in the background (ctx.waitUntil) the way `?mode=` says, then POSTs how branch B ended to SOURCE/report.
//   none          no tee: the body straight to the client (baseline)
//   digest        B piped to crypto.DigestStream (a native sink)
//   upload        B as the body of a PUT to SOURCE/sink (a native pump to the network, like an R2 put)
//   slow-upload   like upload, but the sink reads only SLOW_SINK_MIBPS (a store slower than the client)
//   fixed-upload  B through a FixedLengthStream, then PUT to SOURCE/sink (the R2 pattern for a stream of unknown length)
//   js-read       a JS reader loop that counts and drops B's chunks
//   js-transform  B through a JS TransformStream, then to crypto.DigestStream
//   r2            B put into the R2 bucket CACHE_BUCKET (under miniflare: its R2 simulator)
//   r2-alone      no tee: the whole body put into CACHE_BUCKET, then a short answer (what the simulator costs alone)

/**
 * @typedef {{ put(key: string, body: ReadableStream<Uint8Array>): Promise<unknown>, head(key: string): Promise<{ size: number } | null> }} Bucket
 * @typedef {{ SOURCE: string, SLOW_SINK_MIBPS?: string, CACHE_BUCKET?: Bucket }} Env
 * @typedef {{ waitUntil(promise: Promise<unknown>): void }} Context
 * @typedef {{ bytes?: number, digest?: string }} Outcome
 */

/** Workerd's own stream classes, which Node's types do not know. */
const workers = /** @type {any} */ (globalThis);

export default {
  /**
   * @param {Request} request
   * @param {Env} env
   * @param {Context} ctx
   */
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const mode = url.searchParams.get("mode") ?? "none";
    const id = url.searchParams.get("id") ?? "";
    if (url.pathname !== "/tee") return new Response("tee experiment\n");
    const upstream = await fetch(`${env.SOURCE}/blob`);
    const length = Number(upstream.headers.get("content-length"));
    if (!upstream.body || mode === "none") return upstream;
    if (mode === "r2-alone") {
      await bucket(env).put(id, upstream.body);
      return new Response(`stored ${(await bucket(env).head(id))?.size} bytes\n`);
    }

    const [toClient, branch] = upstream.body.tee();
    const started = Date.now();
    /** @param {Record<string, unknown>} fields */
    const report = (fields) =>
      fetch(`${env.SOURCE}/report`, {
        method: "POST",
        body: JSON.stringify({ id, mode, ms: Date.now() - started, ...fields }),
      });
    ctx.waitUntil(
      consume(mode, branch, length, env).then(
        (outcome) => report({ outcome: "done", ...outcome }),
        (error) => report({ outcome: "error", error: String(error) }),
      ),
    );
    return new Response(toClient, { headers: upstream.headers });
  },
};

/**
 * @param {string} mode
 * @param {ReadableStream<Uint8Array>} branch
 * @param {number} length
 * @param {Env} env
 * @returns {Promise<Outcome>}
 */
async function consume(mode, branch, length, env) {
  switch (mode) {
    case "digest": {
      const sink = new workers.crypto.DigestStream("SHA-256");
      await branch.pipeTo(sink);
      return { digest: hex(await sink.digest) };
    }
    case "upload":
    case "slow-upload":
    case "fixed-upload": {
      const body =
        mode === "fixed-upload"
          ? branch.pipeThrough(new workers.FixedLengthStream(length))
          : branch;
      const query = mode === "slow-upload" ? `?mibps=${env.SLOW_SINK_MIBPS ?? 20}` : "";
      const response = await fetch(`${env.SOURCE}/sink${query}`, { method: "PUT", body });
      return /** @type {Outcome} */ (await response.json());
    }
    case "r2": {
      await bucket(env).put(`${Date.now()}`, branch);
      return {};
    }
    case "js-read": {
      const reader = branch.getReader();
      let bytes = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return { bytes };
        bytes += value.byteLength;
      }
    }
    case "js-transform": {
      let bytes = 0;
      const sink = new workers.crypto.DigestStream("SHA-256");
      await branch
        .pipeThrough(
          new TransformStream({
            transform(chunk, controller) {
              bytes += chunk.byteLength;
              controller.enqueue(chunk);
            },
          }),
        )
        .pipeTo(sink);
      return { bytes, digest: hex(await sink.digest) };
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

/** @param {Env} env */
function bucket(env) {
  if (!env.CACHE_BUCKET) throw new Error("no CACHE_BUCKET bound (run under miniflare)");
  return env.CACHE_BUCKET;
}

/** @param {ArrayBuffer} buffer */
function hex(buffer) {
  return `sha256:${[...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
