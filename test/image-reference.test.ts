import { describe, expect, it } from "vitest";
import { parseImageReference } from "../src/image-reference";

const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;

describe("parseImageReference: references normalised as Docker does", () => {
  it.each([
    ["nginx", { registry: "docker.io", repository: "library/nginx", tag: "latest" }],
    ["nginx:1.27", { registry: "docker.io", repository: "library/nginx", tag: "1.27" }],
    ["  bitnami/nginx  ", { registry: "docker.io", repository: "bitnami/nginx", tag: "latest" }],
    [
      "docker.io/library/alpine:3",
      { registry: "docker.io", repository: "library/alpine", tag: "3" },
    ],
    ["docker.io/alpine", { registry: "docker.io", repository: "library/alpine", tag: "latest" }],
    [
      "index.docker.io/alpine",
      { registry: "docker.io", repository: "library/alpine", tag: "latest" },
    ],
    ["registry-1.docker.io/a/b", { registry: "docker.io", repository: "a/b", tag: "latest" }],
    ["ghcr.io/org/app:v1", { registry: "ghcr.io", repository: "org/app", tag: "v1" }],
    ["GHCR.io/org/app", { registry: "ghcr.io", repository: "org/app", tag: "latest" }],
    [
      "registry.k8s.io/pause:3.10",
      { registry: "registry.k8s.io", repository: "pause", tag: "3.10" },
    ],
    ["localhost/app", { registry: "localhost", repository: "app", tag: "latest" }],
    ["localhost:5000/a/b:c", { registry: "localhost:5000", repository: "a/b", tag: "c" }],
    ["a/b/c/d", { registry: "docker.io", repository: "a/b/c/d", tag: "latest" }],
    [`quay.io/org/x@${DIGEST}`, { registry: "quay.io", repository: "org/x", digest: DIGEST }],
    [
      `nginx:1.27@${DIGEST}`,
      { registry: "docker.io", repository: "library/nginx", tag: "1.27", digest: DIGEST },
    ],
  ])("reads %j", (text, expected) => {
    expect(parseImageReference(text)).toEqual(expected);
  });

  it.each([
    "",
    "Nginx",
    "https://ghcr.io/org/app",
    "nginx:",
    "nginx:-bad",
    ":tag",
    "a//b",
    "org/app@sha256:short",
    "nginx latest",
    `${"a".repeat(256)}`,
    "ghcr.io/",
  ])("refuses %j", (text) => {
    expect(parseImageReference(text)).toBeUndefined();
  });

  it("runs from its own source alone, as the help page's script runs it", () => {
    // Rebuilt from its text, with nothing of this module's scope: the same answers.
    const rebuilt = new Function(
      `return (${parseImageReference.toString()})`,
    )() as typeof parseImageReference;
    for (const text of ["nginx", "ghcr.io/org/app:v1", `quay.io/org/x@${DIGEST}`, "Nginx"]) {
      expect(rebuilt(text)).toEqual(parseImageReference(text));
    }
  });
});
