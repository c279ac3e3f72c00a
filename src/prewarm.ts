/**
 * The warm-up a Cron Trigger runs: for each image in PREWARM, resolve its tag (and remember it),
 * and put its manifests and blobs into R2, so that the first pull of the morning finds them. A run
 * stops before the plan's subrequest limit and leaves its queue in R2; the next run goes on from
 * there. A lease in R2 keeps two runs from filling the same blobs at once.
 */

import type { PrewarmImage } from "./config";
import { ContentStore, partitionOf } from "./content-store";
import type { RepositoryEndpoint } from "./endpoint";
import { forwarder, type Grant } from "./forward";
import { upstreamFetchCount } from "./fetch-upstream";
import type { Isolate } from "./isolate";
import { logProblem, Trace } from "./log";
import { isValidDigest } from "./reference";
import type { RepositoryTarget } from "./routing";

/** What a run still has to do, in order. */
type Work =
  /** Resolve an image's tag or digest and queue what it names. */
  | { kind: "image"; image: number }
  /** A platform manifest of an index, by digest. */
  | { kind: "manifest"; image: number; digest: string }
  /** A config or layer. */
  | { kind: "blob"; image: number; digest: string };

/** The queue a run leaves behind, for the PREWARM it was made from. */
interface State {
  prewarm: string;
  queue: Work[];
}

/** What one run did, as its log line says it. */
export interface PrewarmReport {
  images: number;
  manifests: number;
  blobs: number;
  /** Content R2 already held. */
  kept: number;
  failed: number;
  /** Work left for the next run. */
  remaining: number;
  subrequests: number;
  /** Another run held the lease: this one did nothing. */
  skipped?: boolean;
}

/** The most upstream fetches one work item may take: ping, token, registry, redirect, a hop's token. */
const WORST_ITEM = 5;
/** A run that died is taken over after this long. */
const LEASE_MS = 15 * 60 * 1000;
/** Manifests are read to find what they name; none is this big. */
const MAX_MANIFEST = 4 * 1024 * 1024;
const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** Runs one warm-up. Needs the R2 bucket: the Cache API of the colo a cron runs in helps nobody. */
export async function prewarm(
  isolate: Isolate,
  bucket: R2Bucket | undefined,
): Promise<PrewarmReport> {
  const { config } = isolate;
  const report: PrewarmReport = {
    images: 0,
    manifests: 0,
    blobs: 0,
    kept: 0,
    failed: 0,
    remaining: 0,
    subrequests: 0,
  };
  if (!config.prewarm.length) return report;
  if (!bucket) {
    logProblem(
      "prewarm",
      new Error("PREWARM needs the CACHE_BUCKET R2 binding: nothing was warmed"),
    );
    return report;
  }
  const keys = {
    state: `${config.cacheNamespace}/prewarm/state`,
    lease: `${config.cacheNamespace}/prewarm/lease`,
  };
  // The lease is taken with a conditional put: created only if there is none, or taken over only
  // if the expired one is still the one read; of two runs that start at once, one gets it.
  const lease = await bucket.head(keys.lease);
  const taken =
    !(lease && Number(lease.customMetadata?.until) > Date.now()) &&
    (await bucket.put(keys.lease, "", {
      customMetadata: { until: String(Date.now() + LEASE_MS) },
      onlyIf: lease ? { etagMatches: lease.etag } : { etagDoesNotMatch: "*" },
    }));
  if (!taken) {
    console.log(JSON.stringify({ message: "prewarm", ...report, skipped: true }));
    return { ...report, skipped: true };
  }

  try {
    const signature = JSON.stringify(
      config.prewarm.map((i) => [i.upstream.name, i.repository, i.reference, i.platforms]),
    );
    const saved = await readState(bucket, keys.state);
    // A new round (or a changed PREWARM) starts from every image: tags are resolved afresh each round.
    const queue: Work[] =
      saved?.prewarm === signature && saved.queue.length
        ? saved.queue
        : config.prewarm.map((_, image) => ({ kind: "image", image }));
    const seen = new Set<string>();
    const start = upstreamFetchCount();
    const writes: Promise<unknown>[] = [];
    const store = new ContentStore({
      namespace: config.cacheNamespace,
      origin: undefined,
      bucket,
      maxObjectBytes: config.maxStoredBytes,
      waitUntil: (p) => writes.push(p),
    });
    while (queue.length && upstreamFetchCount() - start + WORST_ITEM <= config.prewarmSubrequests) {
      const work = queue.shift()!;
      const key = work.kind === "image" ? `image ${work.image}` : `${work.kind} ${work.digest}`;
      if (seen.has(key)) continue;
      seen.add(key);
      try {
        queue.push(...(await step(isolate, store, config.prewarm, work, report)));
      } catch (error) {
        report.failed++;
        logProblem("prewarm", error);
      }
    }
    await Promise.all(writes);
    report.remaining = queue.length;
    report.subrequests = upstreamFetchCount() - start;
    await bucket.put(keys.state, JSON.stringify({ prewarm: signature, queue } satisfies State));
  } finally {
    await bucket.delete(keys.lease);
  }
  console.log(JSON.stringify({ message: "prewarm", ...report }));
  return report;
}

/** Does one piece of work; returns what it found to do next. */
async function step(
  isolate: Isolate,
  store: ContentStore,
  images: readonly PrewarmImage[],
  work: Work,
  report: PrewarmReport,
): Promise<Work[]> {
  const image = images[work.image]!;
  const grant: Grant = {
    kind: "shared",
    credentials: isolate.config.upstreamCredentials.get(image.upstream.route) ?? [],
  };
  const partition = partitionOf(image.upstream, grant);
  const forward = forwarderFor(isolate, image, grant);

  if (work.kind === "blob") {
    if (await store.inBucket(partition, "blobs", work.digest)) {
      report.kept++;
      return [];
    }
    const response = await forward(
      { kind: "blob", name: image.repository, digest: work.digest },
      "GET",
    );
    const stored = response.body
      ? await store.putBucket(partition, "blobs", work.digest, response.body, contentType(response))
      : false;
    if (!stored) throw new Error(`blob ${work.digest} of ${image.repository} was not stored`);
    report.blobs++;
    return [];
  }

  const reference = work.kind === "image" ? image.reference : work.digest;
  const { digest, bytes } = await manifest(store, forward, partition, image, reference, report);
  if (work.kind === "image") {
    report.images++;
    if (!reference.includes(":")) store.writeTag(partition, image.repository, reference, digest);
  }
  return named(work.image, image, bytes);
}

/** A manifest's bytes: from R2 when it holds them (by digest), else from upstream, and into R2. */
async function manifest(
  store: ContentStore,
  forward: ReturnType<typeof forwarderFor>,
  partition: string,
  image: PrewarmImage,
  reference: string,
  report: PrewarmReport,
): Promise<{ digest: string; bytes: Uint8Array }> {
  const endpoint: RepositoryEndpoint = { kind: "manifest", name: image.repository, reference };
  // A tag is resolved with a HEAD, which Docker Hub does not count as a pull; only a manifest R2
  // does not hold yet is fetched.
  let known: string | undefined = reference;
  if (!isValidDigest(reference)) {
    const head = await forward(endpoint, "HEAD");
    await head.body?.cancel();
    known = head.headers.get("docker-content-digest") ?? undefined;
  }
  if (known && isValidDigest(known)) {
    const kept = await store.readBucket(partition, "manifests", known, MAX_MANIFEST);
    if (kept) {
      report.kept++;
      return { digest: known, bytes: kept };
    }
  }
  const response = await forward(endpoint, "GET");
  const digest = response.headers.get("docker-content-digest") ?? reference;
  const type = response.headers.get("content-type") ?? undefined;
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > MAX_MANIFEST || !isValidDigest(digest))
    throw new Error(`manifest ${reference} of ${image.repository} is not one`);
  if (!(await store.putBucket(partition, "manifests", digest, bytes, type ?? "application/json"))) {
    throw new Error(`manifest ${digest} of ${image.repository} did not match its digest`);
  }
  report.manifests++;
  return { digest, bytes };
}

/** What a manifest names: an index's platform manifests (those PREWARM asks for), an image's config and layers. */
function named(index: number, image: PrewarmImage, bytes: Uint8Array): Work[] {
  const parsed = JSON.parse(new TextDecoder().decode(bytes)) as {
    mediaType?: string;
    manifests?: Array<{
      digest?: string;
      platform?: { os?: string; architecture?: string; variant?: string };
    }>;
    config?: { digest?: string };
    layers?: Array<{ digest?: string }>;
  };
  if (Array.isArray(parsed.manifests)) {
    return parsed.manifests.flatMap((m) => {
      const p = m.platform;
      const platform = p ? [p.os, p.architecture, p.variant].filter(Boolean).join("/") : "";
      const wanted =
        !image.platforms.length ||
        image.platforms.some((w) => w === platform || (p && w === `${p.os}/${p.architecture}`));
      return wanted && m.digest && isValidDigest(m.digest)
        ? [{ kind: "manifest" as const, image: index, digest: m.digest }]
        : [];
    });
  }
  const digests = [parsed.config?.digest, ...(parsed.layers ?? []).map((l) => l.digest)];
  return digests.flatMap((digest) =>
    digest && isValidDigest(digest) ? [{ kind: "blob" as const, image: index, digest }] : [],
  );
}

function forwarderFor(isolate: Isolate, image: PrewarmImage, grant: Grant) {
  const target: RepositoryTarget = {
    upstream: image.upstream,
    via: "host",
    clientName: image.repository,
    repository: image.repository,
  };
  return forwarder(
    isolate,
    {
      url: new URL(`https://prewarm.invalid/v2/${image.repository}/`),
      target,
      headers: new Headers({ accept: MANIFEST_ACCEPT, "user-agent": "cf-registry-proxy prewarm" }),
      grant,
      challenge: () => 'Bearer realm="prewarm"',
    },
    new Trace(),
  );
}

function contentType(response: Response): string {
  return response.headers.get("content-type") ?? "application/octet-stream";
}

async function readState(bucket: R2Bucket, key: string): Promise<State | undefined> {
  try {
    const text = await (await bucket.get(key))?.text();
    const state = text ? (JSON.parse(text) as State) : undefined;
    return state && typeof state.prewarm === "string" && Array.isArray(state.queue)
      ? state
      : undefined;
  } catch {
    return undefined;
  }
}
