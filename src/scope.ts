/** Token scopes (Docker token auth spec, "Requesting a token"): `type:name:actions`. */

/** A parsed scope; `name` may itself hold a colon (`localhost:5000/foo`). */
export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

/** Parses `repository:library/nginx:pull,push`; returns undefined for anything else. */
export function parseScope(raw: string): Scope | undefined {
  const first = raw.indexOf(":");
  const last = raw.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  const type = raw.slice(0, first);
  const name = raw.slice(first + 1, last);
  const actions = raw
    .slice(last + 1)
    .split(",")
    .filter(Boolean);
  if (!name || actions.length === 0) return undefined;
  return { type, name, actions };
}

/** Writes a scope back in the wire form. */
export function formatScope(scope: Scope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(",")}`;
}

/** True for repository scopes, including the `repository(plugin)` class Docker uses for plugins. */
export function isRepositoryScope(scope: Scope): boolean {
  return scope.type === "repository" || scope.type.startsWith("repository(");
}

/** The pull scope of a repository: `repository:library/nginx:pull`. */
export function pullScope(repository: string): string {
  return formatScope({ type: "repository", name: repository, actions: ["pull"] });
}
