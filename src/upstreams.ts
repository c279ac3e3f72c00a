/** The built-in table of upstreams: the registries the proxy pulls from, keyed by route name. */

/** One registry the proxy pulls from. */
export interface Upstream {
  /** Route name, the first DNS label that selects it: `docker.example.com` → `docker`. */
  readonly route: string;
  /** The registry's name as clients write it in references, `ns=` and path prefixes: `docker.io`. */
  readonly name: string;
  /** Other names clients use for the same registry (path prefixes, `ns`). */
  readonly aliases: readonly string[];
  /** Base URL the proxy fetches from; `/v2/...` is appended. */
  readonly url: string;
  /** Docker Hub: a one-component repository name means `library/<name>`. */
  readonly libraryPrefix: boolean;
  /** Where `docker search` goes (Docker's v1 search API); only Docker Hub has one. */
  readonly searchUrl?: string;
}

type Entry = [route: string, name: string, url: string, extra?: Partial<Upstream>];

const ENTRIES: Entry[] = [
  [
    "docker",
    "docker.io",
    "https://registry-1.docker.io",
    {
      aliases: ["registry-1.docker.io", "index.docker.io"],
      libraryPrefix: true,
      searchUrl: "https://index.docker.io/v1/search",
    },
  ],
  ["quay", "quay.io", "https://quay.io"],
  ["gcr", "gcr.io", "https://gcr.io"],
  ["k8s-gcr", "k8s.gcr.io", "https://k8s.gcr.io"],
  ["k8s", "registry.k8s.io", "https://registry.k8s.io"],
  ["ghcr", "ghcr.io", "https://ghcr.io"],
  ["cloudsmith", "docker.cloudsmith.io", "https://docker.cloudsmith.io"],
  ["ecr", "public.ecr.aws", "https://public.ecr.aws"],
  ["mcr", "mcr.microsoft.com", "https://mcr.microsoft.com"],
  ["nvcr", "nvcr.io", "https://nvcr.io"],
  ["gitlab", "registry.gitlab.com", "https://registry.gitlab.com"],
  ["elastic", "docker.elastic.co", "https://docker.elastic.co"],
];

/** Built-in upstreams in display order. */
export const BUILTIN_UPSTREAMS: readonly Upstream[] = ENTRIES.map(([route, name, url, extra]) => ({
  route,
  name,
  url,
  aliases: extra?.aliases ?? [],
  libraryPrefix: extra?.libraryPrefix ?? false,
  ...(extra?.searchUrl ? { searchUrl: extra.searchUrl } : {}),
}));
