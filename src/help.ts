/** The help page at `/`: how to use this deployment, built from the configuration and the request's host. */

import type { Config } from "./config";
import { isLocked } from "./config";
import { answerFor, renderAnswer, type HelpSite } from "./help-answer";
import { helpScript, helpScriptHash } from "./help-script";
import { parseImageReference } from "./image-reference";
import { hostTarget } from "./routing";
import { BUILTIN_UPSTREAMS, type Upstream } from "./upstreams";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** What the converter shows first, and the examples a visitor can click (links to `/?image=` without script). */
const EXAMPLES = [
  "nginx:1.27",
  "nginx",
  "ghcr.io/org/app:v1",
  "registry.k8s.io/pause:3.10",
  `quay.io/org/x@sha256:${"0123456789abcdef".repeat(4)}`,
  "docker.io/library/alpine",
];

/** Longest `image` the page echoes into its box; no reference is longer. */
const MAX_IMAGE = 512;

/**
 * Renders the help page, with the converter's answer for `?image=` (or the first example) in it.
 * Everything taken from the request is escaped.
 */
export async function helpPage(url: URL, config: Config): Promise<Response> {
  const origin = url.origin; // scheme + host as the client used them
  const host = url.host;
  // docker.example.com → example.com: where sibling routes (ghcr.example.com, ...) would live.
  const byHost = hostTarget(config, url.hostname);
  const base = byHost.via === "host" ? host.slice(host.indexOf(".") + 1) : undefined;
  const locked = isLocked(config);
  // A locked proxy shows anonymous visitors nothing of UPSTREAMS: only the built-in routes.
  const upstreams = locked
    ? config.upstreams.filter((u) =>
        BUILTIN_UPSTREAMS.some((b) => b.route === u.route && b.name === u.name),
      )
    : config.upstreams;
  const mirror = upstreams.includes(config.defaultUpstream)
    ? config.defaultUpstream
    : BUILTIN_UPSTREAMS[0]!;
  const insecure = url.protocol === "http:";
  const site: HelpSite = {
    host,
    origin,
    insecure,
    ...(upstreams.includes(byHost.upstream) ? { own: byHost.upstream.name } : {}),
    ...(base ? { base } : {}),
    registries: upstreams.map(({ route, name, aliases, libraryPrefix }) => ({
      route,
      name,
      aliases,
      libraryPrefix,
    })),
    locked,
  };
  const image = (url.searchParams.get("image") ?? EXAMPLES[0]!).slice(0, MAX_IMAGE);
  const answer = renderAnswer(answerFor(image, site, parseImageReference));
  const examples = EXAMPLES.map(
    (example) =>
      `<a class="example" href="/?${e(new URLSearchParams({ image: example }).toString())}">${e(example.replace(/(@sha256:[0-9a-f]{4})[0-9a-f]+/, "$1…"))}</a>`,
  ).join(" ");

  const rows = upstreams
    .map((r) => {
      // This host's own registry needs no prefix.
      const prefixed =
        r === byHost.upstream ? `${host}/${example(r)}` : `${host}/${r.name}/${example(r)}`;
      const viaHost = base ? `${r.route}.${base}/${example(r)}` : "";
      return `<tr><td>${e(r.route)}</td><td>${e(r.name)}</td><td><code>docker pull ${e(prefixed)}</code>${
        viaHost ? `<br><code>docker pull ${e(viaHost)}</code>` : ""
      }</td></tr>`;
    })
    .join("\n");

  const daemonJson = JSON.stringify(
    { "registry-mirrors": [origin], ...(insecure ? { "insecure-registries": [host] } : {}) },
    null,
    2,
  );
  const hostsToml = `server = "https://${mirror.name === "docker.io" ? "registry-1.docker.io" : mirror.name}"

[host."${origin}"]
  capabilities = ["pull", "resolve"]`;
  const registriesConf = `[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "${site.own === "docker.io" ? host : `${host}/docker.io`}"${insecure ? "\ninsecure = true" : ""}

[[registry]]
prefix = "ghcr.io"
location = "ghcr.io"

[[registry.mirror]]
location = "${host}/ghcr.io"${insecure ? "\ninsecure = true" : ""}`;
  const k3s = `mirrors:
  docker.io:
    endpoint:
      - "${origin}"
  ghcr.io:
    endpoint:
      - "${origin}"`;

  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Registry proxy at ${e(host)}</title>
<link rel="icon" href="data:,">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:58rem;margin:2rem auto;padding:0 1rem;color:#222}
pre,code{font:13px ui-monospace,monospace;background:#f4f4f4}pre{padding:.75rem;overflow:auto;margin:0}
table{border-collapse:collapse}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.snippet{position:relative;margin:.5rem 0 1rem}.copy{display:none;position:absolute;top:.35rem;right:.35rem;font:12px system-ui,sans-serif;padding:.15rem .5rem;cursor:pointer}
.js .copy{display:block}
#converter{border:2px solid #36c;border-radius:6px;padding:.25rem 1rem 1rem;margin:1.5rem 0 2rem}
#convert{display:flex;gap:.5rem;flex-wrap:wrap}#convert label{flex:1 1 20rem;display:flex;flex-direction:column;font-weight:600}
#image{font:15px ui-monospace,monospace;padding:.4rem;margin-top:.25rem}#convert button{align-self:flex-end;font:inherit;padding:.4rem 1rem}
.examples{font-size:13px;color:#555}.examples a{margin-right:.5rem}
.message{padding:.5rem .75rem;background:#eef4ff;border-left:4px solid #36c}
.message.invalid,.message.unserved{background:#fff1f0;border-color:#c33}
#answer h3{font-size:15px;margin:1rem 0 .25rem}</style>
</head><body>
<h1>Container registry proxy</h1>
<p>This host pulls images from the registries below through Cloudflare. It is pull-only.
Hosts whose first label names no route serve <b>${e(mirror.name)}</b>.</p>

${
  locked
    ? `<p><b>Log in first:</b> <code>docker login ${e(host)}</code> (for the registry mirror, Docker sends the credentials of a plain <code>docker login</code>; podman and skopeo: <code>podman login ${e(host)}</code>).</p>`
    : ""
}
<section id="converter">
<h2>Pull an image through this host</h2>
<form id="convert" method="get" action="/" data-site="${e(JSON.stringify(site))}">
<label for="image">Image reference, as you would pull it directly
<input id="image" name="image" value="${e(image)}" maxlength="${MAX_IMAGE}" autocomplete="off" autocapitalize="off" spellcheck="false" placeholder="nginx:1.27"></label>
<button type="submit">Convert</button>
</form>
<p class="examples">Examples: ${examples}</p>
<div id="answer" aria-live="polite">
${answer}
</div>
</section>

<h2>Docker: registry mirror</h2>
<p>Add to <code>/etc/docker/daemon.json</code>, then <code>systemctl restart docker</code>; plain <code>docker pull nginx</code> then goes through this host (Docker uses mirrors for Docker Hub images only).</p>
${snippet(daemonJson)}

<h2>Pull with a prefix</h2>
<table><tr><th>route</th><th>registry</th><th>pull</th></tr>
${rows}
</table>
<p>A path prefix works on any host. The first DNS label picks the registry when you point a custom domain per route at this Worker (for example <code>ghcr.${e(base ?? "example.com")}</code>).</p>

<h2>containerd (and Kubernetes nodes using it)</h2>
<p><code>/etc/containerd/certs.d/docker.io/hosts.toml</code>; one directory per registry (<code>certs.d/ghcr.io/</code>, ...), all pointing at this host, which reads containerd's <code>?ns=</code> parameter.
Set <code>config_path = "/etc/containerd/certs.d"</code> under <code>[plugins."io.containerd.grpc.v1.cri".registry]</code>.</p>
${snippet(hostsToml)}

<h2>Podman, CRI-O, Buildah, Skopeo</h2>
<p><code>/etc/containers/registries.conf</code>: a mirror with a path selects the registry.</p>
${snippet(registriesConf)}

<h2>k3s / RKE2</h2>
<p><code>/etc/rancher/k3s/registries.yaml</code>, then restart k3s:</p>
${snippet(k3s)}
<script>${helpScript()}</script>
</body></html>
`;
  return new Response(html, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-cache",
      // Only the one inline script, by its hash; nothing loads from anywhere; the form submits here.
      "content-security-policy": `default-src 'none'; script-src ${await helpScriptHash()}; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    },
  });
}

function example(upstream: Upstream): string {
  return upstream.libraryPrefix ? "nginx:latest" : "org/image:tag";
}

const e = escapeHtml;

/** A command or file with its copy button (the markup of renderAnswer's snippets). */
function snippet(code: string): string {
  return `<div class="snippet"><pre>${e(code)}</pre><button type="button" class="copy">Copy</button></div>`;
}
