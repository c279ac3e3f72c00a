import { describe, expect, it } from "vitest";
import { answerFor, renderAnswer, type HelpSite } from "../src/help-answer";
import { parseImageReference } from "../src/image-reference";

const registries = [
  { route: "docker", name: "docker.io", aliases: ["index.docker.io"], libraryPrefix: true },
  { route: "ghcr", name: "ghcr.io", aliases: [], libraryPrefix: false },
];
const site: HelpSite = {
  host: "docker.example.com",
  origin: "https://docker.example.com",
  insecure: false,
  own: "docker.io",
  base: "example.com",
  registries,
  locked: false,
};
const answer = (input: string, over: Partial<HelpSite> = {}) =>
  answerFor(input, { ...site, ...over }, parseImageReference);
const code = (input: string, over: Partial<HelpSite> = {}) =>
  answer(input, over)
    .sections.map((s) => s.code ?? "")
    .join("\n");

describe("answerFor", () => {
  it("pulls the host's own registry without a prefix, another by its route host", () => {
    expect(answer("nginx:1.27").kind).toBe("ok");
    expect(code("nginx:1.27")).toContain("docker pull docker.example.com/nginx:1.27");
    expect(code("ghcr.io/org/app:v1")).toContain("docker pull ghcr.example.com/org/app:v1");
  });

  it("uses the path prefix where there is no route host", () => {
    const workersDev = {
      host: "p.you.workers.dev",
      origin: "https://p.you.workers.dev",
      base: undefined,
    };
    expect(code("ghcr.io/org/app:v1", workersDev)).toContain(
      "docker pull p.you.workers.dev/ghcr.io/org/app:v1",
    );
  });

  it("takes a whole pull command, and refuses what it does not serve or cannot read", () => {
    expect(code("sudo docker pull nginx")).toContain("docker.example.com/nginx:latest");
    expect(answer("quay.io/org/x").kind).toBe("unserved");
    expect(answer("https://ghcr.io/org/app").kind).toBe("invalid");
    expect(answer("").kind).toBe("empty");
  });

  it("never echoes what it could not read", () => {
    const hostile = '<img src=x onerror="alert(1)">';
    const rendered = renderAnswer(answer(hostile));
    expect(rendered).not.toContain("<img");
    expect(rendered).not.toContain("onerror");
  });
});
