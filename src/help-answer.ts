/**
 * The help page's converter: for one image reference, the pull commands through this host and
 * the client configuration that sends the plain reference here.
 *
 * `answerFor` and `renderAnswer` are self-contained on purpose, like `parseImageReference` (no
 * imports at run time, nothing from module scope): the page's script runs these very functions in
 * the browser, from their source (help-script.ts), so the page and the Worker cannot disagree.
 */

import type { ImageReference } from "./image-reference";

/** A registry as the help page may show it. */
export interface HelpRegistry {
  /** Route name: the first DNS label of its own host (`ghcr` in ghcr.example.com). */
  readonly route: string;
  /** The registry's name in references, `ns=` and path prefixes: `ghcr.io`. */
  readonly name: string;
  readonly aliases: readonly string[];
  /** Docker Hub: `library/nginx` is written `nginx`. */
  readonly libraryPrefix: boolean;
}

/** What the converter knows of this deployment and of the host the page was opened on: plain data, sent to the browser as JSON. */
export interface HelpSite {
  /** host[:port] as the client used it. */
  readonly host: string;
  /** scheme://host[:port]. */
  readonly origin: string;
  /** The page came over plain HTTP: clients must be told this registry is insecure. */
  readonly insecure: boolean;
  /** The registry this host serves without a prefix; absent when the visitor may not see it. */
  readonly own?: string;
  /** `example.com` when the page was opened on a route host (`docker.example.com`): where the sibling route hosts live. */
  readonly base?: string;
  /** The registries the visitor may see, in display order. */
  readonly registries: readonly HelpRegistry[];
  /** Clients must log in (PROXY_USERS). */
  readonly locked: boolean;
}

/** One block of an answer. Text marks code with backticks. */
export interface HelpSection {
  readonly title: string;
  readonly note: string;
  /** A command or a file's content, with a copy button. */
  readonly code?: string;
}

/** What the converter says about one input. Text marks code with backticks. */
export interface HelpAnswer {
  readonly kind: "empty" | "invalid" | "unserved" | "proxied" | "ok";
  readonly message: string;
  readonly sections: readonly HelpSection[];
}

/** The answer for what a person typed or pasted: a reference, or a whole `docker pull` command. */
export function answerFor(
  input: string,
  site: HelpSite,
  parse: (text: string) => ImageReference | undefined,
): HelpAnswer {
  // People paste whole commands: take what follows `docker pull` and the like.
  const text = input
    .trim()
    .replace(/^(?:sudo\s+)?(?:docker|podman|nerdctl|crictl)\s+(?:image\s+)?pull\s+/, "")
    .trim();
  if (!text) {
    return {
      kind: "empty",
      message: "Paste an image reference above, such as `nginx:1.27` or `ghcr.io/org/app:v1`.",
      sections: [],
    };
  }
  const reference = text.length <= 512 ? parse(text) : undefined;
  if (!reference) {
    // Never echo the input: the box shows it already.
    const hint = /^[a-z][a-z0-9+.-]*:\/\//i.test(text)
      ? " Leave out the scheme (`https://`)."
      : /\s/.test(text)
        ? " One reference at a time, without spaces or options."
        : /[A-Z]/.test(text)
          ? " Repository names are lower case."
          : "";
    return {
      kind: "invalid",
      message: `That is not an image reference: expected \`[registry/]repository[:tag][@digest]\`, such as \`nginx:1.27\` or \`ghcr.io/org/app:v1\`.${hint}`,
      sections: [],
    };
  }

  const suffix =
    (reference.tag ? `:${reference.tag}` : "") + (reference.digest ? `@${reference.digest}` : "");
  const full = `${reference.registry}/${reference.repository}${suffix}`;
  const insecure = site.insecure;
  const login = site.locked
    ? ` Log in before pulling: \`docker login ${site.host}\` (\`podman login\` and \`nerdctl login\` likewise; \`crictl pull --creds USER:PASSWORD\`).`
    : "";
  const pulls = (ref: string) =>
    [
      `docker pull ${ref}`,
      `podman pull ${insecure ? "--tls-verify=false " : ""}${ref}`,
      `nerdctl pull ${insecure ? "--insecure-registry " : ""}${ref}`,
      `crictl pull ${ref}`,
    ].join("\n");

  // A reference that names this host, or a sibling route host, already pulls through this proxy.
  const siblings = site.base ? site.registries.map((r) => `${r.route}.${site.base}`) : [];
  if (reference.registry === site.host.toLowerCase() || siblings.includes(reference.registry)) {
    return {
      kind: "proxied",
      message: `\`${full}\` already pulls through this proxy.`,
      sections: [{ title: "Pull", note: login.trim(), code: pulls(full) }],
    };
  }

  const registry = site.registries.find(
    (r) => r.name === reference.registry || r.aliases.includes(reference.registry),
  );
  if (!registry) {
    const served = site.registries.map((r) => `\`${r.name}\``).join(", ");
    return {
      kind: "unserved",
      message: `\`${reference.registry}\` is not one of this proxy's registries, so it does not serve \`${full}\`. It serves ${served}.`,
      sections: [],
    };
  }

  // Docker Hub's official images are written without `library/`; the proxy completes it.
  const repository =
    registry.libraryPrefix && /^library\/[^/]+$/.test(reference.repository)
      ? reference.repository.slice("library/".length)
      : reference.repository;
  const own = registry.name === site.own;
  const prefixed = `${site.host}/${registry.name}/${repository}${suffix}`;
  // This host's own registry needs no prefix; on a route host, the registry's own route host.
  const pulled = own
    ? `${site.host}/${repository}${suffix}`
    : site.base
      ? `${registry.route}.${site.base}/${repository}${suffix}`
      : prefixed;
  // What people keep writing once their client is configured: Docker's familiar form.
  const plain = registry.name === "docker.io" ? `${repository}${suffix}` : full;
  const name = registry.name;
  const quotedName = name.includes(":") ? `"${name}"` : name;

  const sections: HelpSection[] = [
    {
      title: "Pull through this host",
      note: `${insecure ? "This host speaks plain HTTP: Docker needs it in `insecure-registries` (below)." : ""}${login}`.trim(),
      code: pulls(pulled),
    },
  ];
  if (pulled !== prefixed && !own) {
    sections.push({
      title: "Or with the registry as a path prefix",
      note: `Works on every host of this proxy, also without a \`${registry.route}.${site.base}\` domain.`,
      code: `docker pull ${prefixed}`,
    });
  }
  if (name === "docker.io") {
    sections.push({
      title: "Docker: registry mirror",
      note:
        `\`/etc/docker/daemon.json\`, then \`systemctl restart docker\`: plain \`docker pull ${plain}\` goes through this host, and to Docker Hub itself when this host fails.` +
        (site.locked
          ? " Docker sends the mirror the credentials of a plain `docker login` (no host)."
          : ""),
      code: JSON.stringify(
        {
          "registry-mirrors": [site.origin],
          ...(insecure ? { "insecure-registries": [site.host] } : {}),
        },
        null,
        2,
      ),
    });
  } else {
    sections.push({
      title: "Docker: registry mirror",
      note:
        `Docker's \`registry-mirrors\` apply to Docker Hub images only: a plain \`docker pull ${plain}\` always goes to ${name} itself. Pull the reference above instead.` +
        (insecure ? " Over plain HTTP, Docker needs this host in `insecure-registries`:" : ""),
      ...(insecure
        ? { code: JSON.stringify({ "insecure-registries": [site.host] }, null, 2) }
        : {}),
    });
  }
  sections.push(
    {
      title: "containerd, nerdctl and Kubernetes nodes",
      note: `\`/etc/containerd/certs.d/${name}/hosts.toml\`, with \`config_path = "/etc/containerd/certs.d"\` under \`[plugins."io.containerd.grpc.v1.cri".registry]\`: plain \`${full}\` goes through this host (containerd names the registry in \`?ns=\`).`,
      code: `server = "https://${name === "docker.io" ? "registry-1.docker.io" : name}"

[host."${site.origin}"]
  capabilities = ["pull", "resolve"]`,
    },
    {
      title: "Podman, CRI-O, Buildah, Skopeo",
      note: `\`/etc/containers/registries.conf\` (or a file in \`/etc/containers/registries.conf.d/\`): plain \`podman pull ${full}\` goes through this host.`,
      code: `[[registry]]
prefix = "${name}"
location = "${name}"

[[registry.mirror]]
location = "${own ? site.host : `${site.host}/${name}`}"${insecure ? "\ninsecure = true" : ""}`,
    },
    {
      title: "k3s / RKE2",
      note: `\`/etc/rancher/k3s/registries.yaml\`, then restart k3s: pods with \`image: ${plain}\` pull through this host.`,
      code: `mirrors:
  ${quotedName}:
    endpoint:
      - "${site.origin}"${
        site.locked
          ? `
configs:
  "${site.host}":
    auth:
      username: USER
      password: PASSWORD`
          : ""
      }`,
    },
  );
  return {
    kind: "ok",
    message:
      text === full
        ? `This proxy serves \`${full}\` from ${name}.`
        : `\`${text}\` is \`${full}\`: this proxy serves it from ${name}.`,
    sections,
  };
}

/** The answer as HTML; every value is escaped, and backticks become `<code>`. */
export function renderAnswer(answer: HelpAnswer): string {
  const escapes: Record<string, string> = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
  };
  const html = (text: string) => text.replace(/[&<>"']/g, (c) => escapes[c]!);
  const prose = (text: string) => html(text).replace(/`([^`]*)`/g, "<code>$1</code>");
  const parts = [`<p class="message ${answer.kind}">${prose(answer.message)}</p>`];
  for (const section of answer.sections) {
    parts.push(`<h3>${prose(section.title)}</h3>`);
    if (section.note) parts.push(`<p>${prose(section.note)}</p>`);
    if (section.code !== undefined) {
      parts.push(
        `<div class="snippet"><pre>${html(section.code)}</pre><button type="button" class="copy">Copy</button></div>`,
      );
    }
  }
  return parts.join("\n");
}
