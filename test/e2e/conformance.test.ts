// The OCI distribution-spec conformance suite (pull category) through the proxy in every routing mode (path prefix, host, default route, containerd's ns), and on every registry replica.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { seededImage } from "./clients/common.mjs";
import { conformanceMissingReason, runConformance } from "./fixture/conformance.mjs";
import { fetchCounts, resetCounts } from "./fixture/control.mjs";
import { startHostForwardProxy, startNamespaceFront, type Front } from "./fixture/http-front.mjs";
import { loud } from "./fixture/isolation.mjs";
import type { RegistryName, SeededImage } from "./fixture/stack.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

const REGISTRIES = ["hub", "ghcr", "k8s", "quay", "ecr"] as const;

const missing = conformanceMissingReason();
// Not an error even on CI: a clone without ../shared (GitHub's runner) has no suite to run.
if (missing) console.warn(loud(`SKIPPING the OCI conformance suite: ${missing}`));

/** Specs that only run when the content variables reached the suite: each mode must run them. */
const CORE_SPECS = [
  "Pull blobs / HEAD request to existing blob should yield 200",
  "Pull blobs / GET request to existing blob URL should yield 200",
  "Pull manifests / HEAD request to manifest path (tag) should yield 200 response",
  "Pull manifests / GET request to manifest path (tag) should yield 200 response",
  "Pull manifests / GET request to manifest[0] path (digest) should yield 200 response",
  "Pull manifests / GET nonexistent manifest should return 404",
];

describe.skipIf(inject("e2eSkipReason") || missing)(
  "OCI conformance (pull) through the proxy",
  () => {
    const stack = inject("stack");
    const proxyPort = new URL(stack.proxy.url).port;
    let temp: TempDir;
    let fronts: Record<"nsGhcr" | "nsDocker" | "hosts", Front>;

    beforeAll(async () => {
      temp = makeTempDir("cf-registry-proxy-conformance-");
      const [nsGhcr, nsDocker, hosts] = await Promise.all([
        startNamespaceFront({ target: stack.proxy.url, ns: "ghcr.io" }),
        startNamespaceFront({ target: stack.proxy.url, ns: "docker.io" }),
        startHostForwardProxy({ target: stack.proxy.url }),
      ]);
      fronts = { nsGhcr, nsDocker, hosts };
    });
    afterAll(async () => {
      await Promise.all(Object.values(fronts ?? {}).map((front) => front.stop()));
      await temp?.remove();
    });

    const image = (registry: RegistryName, repository: string) =>
      seededImage(stack.images, registry, repository);
    const ghcrTool = () => image("ghcr", "org/tool");
    const hubTool = () => image("hub", "someuser/tool");
    const hubOfficial = () => image("hub", "library/conformance");

    /** How the suite reaches the proxy, and which seeded image it pulls under which name. */
    type Mode = {
      rootUrl: () => string;
      namespace: string;
      image: () => SeededImage;
      httpProxy?: () => string;
    };
    // A Host whose first label names a route: the names resolve nowhere, the suite reaches
    // them through a forward proxy (HTTP_PROXY) that keeps the Host header.
    const hostUrl = (route: string) => `http://${route}.e2e.test:${proxyPort}`;
    const modes: Record<string, Mode> = {
      "path prefix ghcr.io/org/tool": {
        rootUrl: () => stack.proxy.url,
        namespace: "ghcr.io/org/tool",
        image: ghcrTool,
      },
      "path prefix docker.io/someuser/tool": {
        rootUrl: () => stack.proxy.url,
        namespace: "docker.io/someuser/tool",
        image: hubTool,
      },
      "host ghcr.e2e.test, org/tool": {
        rootUrl: () => hostUrl("ghcr"),
        namespace: "org/tool",
        image: ghcrTool,
        httpProxy: () => fronts.hosts.url,
      },
      "host docker.e2e.test, someuser/tool": {
        rootUrl: () => hostUrl("docker"),
        namespace: "someuser/tool",
        image: hubTool,
        httpProxy: () => fronts.hosts.url,
      },
      "default route (Docker Hub), library/conformance": {
        rootUrl: () => stack.proxy.url,
        namespace: "library/conformance",
        image: hubOfficial,
      },
      "default route (Docker Hub), short name conformance": {
        rootUrl: () => stack.proxy.url,
        namespace: "conformance",
        image: hubOfficial,
      },
      "ns=ghcr.io on every request, org/tool": {
        rootUrl: () => fronts.nsGhcr.url,
        namespace: "org/tool",
        image: ghcrTool,
      },
      "ns=docker.io on every request, someuser/tool": {
        rootUrl: () => fronts.nsDocker.url,
        namespace: "someuser/tool",
        image: hubTool,
      },
      // The other replicas (fixture/replicas), each by its path prefix.
      "path prefix registry.k8s.io/conformance": {
        rootUrl: () => stack.proxy.url,
        namespace: "registry.k8s.io/conformance",
        image: () => image("k8s", "conformance"),
      },
      "path prefix quay.io/org/app": {
        rootUrl: () => stack.proxy.url,
        namespace: "quay.io/org/app",
        image: () => image("quay", "org/app"),
      },
      "path prefix public.ecr.aws/nginx/conformance": {
        rootUrl: () => stack.proxy.url,
        namespace: "public.ecr.aws/nginx/conformance",
        image: () => image("ecr", "nginx/conformance"),
      },
    };

    it.each(Object.entries(modes))("%s", async (mode, { rootUrl, namespace, image, httpProxy }) => {
      const seeded = image();
      await resetCounts(stack.controlUrl);
      const result = await runConformance(
        {
          rootUrl: rootUrl(),
          namespace,
          tag: seeded.tag,
          manifestDigest: seeded.digest,
          blobDigest: seeded.layers[0]!,
          httpProxy: httpProxy?.(),
        },
        temp.path,
      );
      const summary = result.specs
        .map(
          (spec) =>
            `  ${spec.state.padEnd(6)} ${spec.name}${spec.failure ? `: ${spec.failure}` : ""}`,
        )
        .join("\n");
      const passed = result.specs.filter((spec) => spec.state === "passed").length;
      console.info(
        `conformance, ${mode}: ${passed} of ${result.specs.length} specs passed\n${summary}`,
      );

      // The tag is always asked upstream (the proxy checks it with a HEAD even when cached), so
      // the mode reached the seeded image's registry, and nothing went to any other.
      const counts = await fetchCounts(stack.controlUrl);
      const own = counts[seeded.registry];
      expect(own.manifestGet + own.manifestHead).toBeGreaterThan(0);
      for (const other of REGISTRIES.filter((name) => name !== seeded.registry)) {
        expect(counts[other].total, other).toBe(0);
      }

      const ran = result.specs.map((spec) => spec.name);
      for (const spec of CORE_SPECS)
        expect(ran, `${spec} did not run:\n${result.output}`).toContain(spec);
      expect(result.code, `the conformance suite failed (${mode}):\n${summary}`).toBe(0);
    });
  },
);
