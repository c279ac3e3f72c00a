/** The help page at `/`: how to use this deployment, built from the configuration and the request's host. */

import type { Config } from "./config";
import { isLocked } from "./config";
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

/** Renders the help page. Everything taken from the request is escaped. */
export function helpPage(url: URL, config: Config): Response {
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
location = "${host}"${insecure ? "\ninsecure = true" : ""}

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
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:58rem;margin:2rem auto;padding:0 1rem;color:#222}
pre,code{font:13px ui-monospace,monospace;background:#f4f4f4}pre{padding:.75rem;overflow:auto}
table{border-collapse:collapse}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}</style>
</head><body>
<h1>Container registry proxy</h1>
<p>This host pulls images from the registries below through Cloudflare. It is pull-only.
Hosts whose first label names no route serve <b>${e(mirror.name)}</b>.</p>
${
  locked
    ? `<p><b>Log in first:</b> <code>docker login ${e(host)}</code> (for the registry mirror, Docker sends the credentials of a plain <code>docker login</code>; podman and skopeo: <code>podman login ${e(host)}</code>).</p>`
    : ""
}

<h2>Docker: registry mirror</h2>
<p>Add to <code>/etc/docker/daemon.json</code>, then <code>systemctl restart docker</code>; plain <code>docker pull nginx</code> then goes through this host (Docker uses mirrors for Docker Hub images only).</p>
<pre>${e(daemonJson)}</pre>

<h2>Pull with a prefix</h2>
<table><tr><th>route</th><th>registry</th><th>pull</th></tr>
${rows}
</table>
<p>A path prefix works on any host. The first DNS label picks the registry when you point a custom domain per route at this Worker (for example <code>ghcr.${e(base ?? "example.com")}</code>).</p>

<h2>containerd (and Kubernetes nodes using it)</h2>
<p><code>/etc/containerd/certs.d/docker.io/hosts.toml</code>; one directory per registry (<code>certs.d/ghcr.io/</code>, ...), all pointing at this host, which reads containerd's <code>?ns=</code> parameter.
Set <code>config_path = "/etc/containerd/certs.d"</code> under <code>[plugins."io.containerd.grpc.v1.cri".registry]</code>.</p>
<pre>${e(hostsToml)}</pre>

<h2>Podman, CRI-O, Buildah, Skopeo</h2>
<p><code>/etc/containers/registries.conf</code>: a mirror with a path selects the registry.</p>
<pre>${e(registriesConf)}</pre>

<h2>k3s / RKE2</h2>
<p><code>/etc/rancher/k3s/registries.yaml</code>, then restart k3s:</p>
<pre>${e(k3s)}</pre>
</body></html>
`;
  return new Response(html, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-cache",
      "content-security-policy": HELP_CSP,
    },
  });
}

function example(upstream: Upstream): string {
  return upstream.libraryPrefix ? "nginx:latest" : "org/image:tag";
}

const e = escapeHtml;

/** The help page runs no script and loads nothing; its only style is inline. */
const HELP_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
