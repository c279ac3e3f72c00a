// What a pull costs: Worker requests, upstream requests and R2 operations, cold and warm, counted
// through the whole Worker against the Docker Hub replica. The README's cost table states these
// numbers; this test fails when they stop being true.
import { env as testBindings } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import readme from "../README.md?raw";
import type { Bindings } from "../src/index";
import { testEnv } from "./helpers/worker";
import { Client } from "./registries/client";
import { dockerHub, type DockerHubReplica } from "./replicas/docker-hub";
import { World } from "./replicas/world";

/** R2 operation classes (R2 pricing): writes are Class A, reads Class B. */
interface R2Count {
  classA: number;
  classB: number;
}

/** The bucket, counting what each call would bill. */
function countingBucket(bucket: R2Bucket, count: R2Count): R2Bucket {
  return new Proxy(bucket, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (property === "put") count.classA++;
        if (property === "get" || property === "head") count.classB++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** One pull's bill: what the client asked the Worker, what the Worker asked upstream and R2. */
interface Bill {
  worker: number;
  upstream: number;
  classA: number;
  classB: number;
}

let world: World;
let hub: DockerHubReplica;
let r2: R2Count;
let env: Bindings;

beforeEach(async () => {
  world = new World();
  hub = await dockerHub(world);
  r2 = { classA: 0, classB: 0 };
  const bucket = (testBindings as unknown as { CACHE_BUCKET: R2Bucket }).CACHE_BUCKET;
  env = testEnv({ CACHE_BUCKET: countingBucket(bucket, r2) });
});

afterEach(() => {
  vi.restoreAllMocks();
  expect(world.net.unexpected).toEqual([]);
});

/** Pulls the image as Docker does, through `origin` (another origin is another colo's Cache API). */
async function pull(origin: string, repository: string, tag: string): Promise<Bill> {
  const before = { upstream: world.net.seen.length, ...r2 };
  const client = new Client(env, { origin, name: repository });
  await client.pull(tag);
  return {
    worker: client.log.length,
    upstream: world.net.seen.length - before.upstream,
    classA: r2.classA - before.classA,
    classB: r2.classB - before.classB,
  };
}

/** The README's row for a kind of pull: `| <kind> | worker | upstream | A | B |`. */
function readmeRow(kind: string): Bill | undefined {
  const row = new RegExp(
    `^\\| ${kind} +\\| (\\d+) +\\| (\\d+) +\\| (\\d+) +\\| (\\d+) +\\|`,
    "m",
  ).exec(readme);
  return row
    ? {
        worker: Number(row[1]),
        upstream: Number(row[2]),
        classA: Number(row[3]),
        classB: Number(row[4]),
      }
    : undefined;
}

describe("what a pull costs, as the README's table says", () => {
  it("single-platform image (manifest, config, 2 layers), with R2", async () => {
    const image = hub.images.find((i) => i.repository === "containrrr/watchtower")!;
    expect(image.image.manifests).toHaveLength(1);
    expect(image.image.blobs).toHaveLength(3);
    const cold = await pull("https://docker.example.com", image.repository, image.tag);
    const second = await pull("https://docker.example.com", image.repository, image.tag);
    const later = await pull("https://docker.example.com", image.repository, image.tag);
    const elsewhere = await pull("https://docker.other-colo.example", image.repository, image.tag);
    // The README's rule: four requests plus one per further manifest and per blob; the first pull
    // puts each manifest and blob once, and the tag pointer.
    const objects = image.image.manifests.length + image.image.blobs.length;
    expect(cold.worker).toBe(4 + (image.image.manifests.length - 1) + image.image.blobs.length);
    expect(cold.classA).toBe(objects + 1);
    expect(readmeRow("first pull")).toEqual(cold);
    expect(readmeRow("second pull, same colo")).toEqual(second);
    expect(readmeRow("later pulls, same colo")).toEqual(later);
    expect(readmeRow("first pull in another colo")).toEqual(elsewhere);
  });
});
