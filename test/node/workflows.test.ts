// The GitHub workflows, read as GitHub reads them: deploy.yml deploys only a push to this
// repository's main after CI passed (never a fork's pull request from a branch called main, never
// a manual run on another branch) and only main's newest commit (its job checks origin/main's
// tip, and every later step waits on that check); ci.yml runs `bash .ci/run`; both are read-only
// and pin every action to a commit. The job's `if:` is evaluated against event payloads shaped as
// GitHub documents them ("Events that trigger workflows", "Contexts reference").
import { spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { condition, evaluate } from "./fixture/expression.mjs";
import { parseYaml } from "./fixture/yaml.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const REPO = "cf-registry-proxy/cf-registry-proxy";
const FORK = "someone/cf-registry-proxy";
const OLD = "1111111111111111111111111111111111111111";
const TIP = "2222222222222222222222222222222222222222";

type Yaml = ReturnType<typeof parseYaml>;
type YMap = { [key: string]: Yaml };

function isMap(value: Yaml): value is YMap {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
function map(value: Yaml, what: string): YMap {
  if (!isMap(value)) throw new Error(`${what} is not a mapping: ${JSON.stringify(value)}`);
  return value;
}
function list(value: Yaml, what: string): Yaml[] {
  if (!Array.isArray(value)) throw new Error(`${what} is not a sequence: ${JSON.stringify(value)}`);
  return value;
}
function text(value: Yaml, what: string): string {
  if (typeof value !== "string")
    throw new Error(`${what} is not a string: ${JSON.stringify(value)}`);
  return value;
}

const workflows = {
  ci: readFileSync(join(ROOT, ".github/workflows/ci.yml"), "utf8"),
  deploy: readFileSync(join(ROOT, ".github/workflows/deploy.yml"), "utf8"),
};
const ci = map(parseYaml(workflows.ci), "ci.yml");
const deploy = map(parseYaml(workflows.deploy), "deploy.yml");

function jobsOf(workflow: YMap, what: string): [string, YMap][] {
  return Object.entries(map(workflow.jobs ?? null, `${what} jobs`)).map(([name, job]) => [
    name,
    map(job, `${what} job ${name}`),
  ]);
}
function stepsOf(job: YMap, what: string): YMap[] {
  return list(job.steps ?? null, `${what} steps`).map((step, i) => map(step, `${what} step ${i}`));
}

const deployJob = map(map(deploy.jobs ?? null, "deploy.yml jobs").deploy ?? null, "job deploy");
const deploySteps = stepsOf(deployJob, "deploy");
const tipIndex = deploySteps.findIndex((step) => step.id === "tip");

// ---- the job's `if:` ---------------------------------------------------------------------------

/** The contexts an expression reads: here, only `github`. */
type Contexts = { github: object };

interface Run {
  conclusion: string | null;
  event: string;
  head_branch: string;
  head_repository: string;
  head_sha?: string;
}

/** The `github` context of a run that CI's completion (workflow_run) started. */
function afterCi(run: Run): Contexts {
  return {
    github: {
      event_name: "workflow_run",
      repository: REPO,
      // workflow_run runs on the default branch: GITHUB_REF is it, GITHUB_SHA its last commit.
      ref: "refs/heads/main",
      sha: TIP,
      event: {
        action: "completed",
        repository: { full_name: REPO },
        workflow_run: {
          name: "CI",
          status: "completed",
          conclusion: run.conclusion,
          event: run.event,
          head_branch: run.head_branch,
          head_sha: run.head_sha ?? OLD,
          head_repository: { full_name: run.head_repository },
          repository: { full_name: REPO },
        },
      },
    },
  };
}

/** The `github` context of a manual run (workflow_dispatch) on a ref. */
function dispatched(ref: string, repository = REPO): Contexts {
  return {
    github: {
      event_name: "workflow_dispatch",
      repository,
      ref,
      sha: TIP,
      event: { ref, repository: { full_name: repository }, inputs: null },
    },
  };
}

/** Any other event's `github` context (deploy.yml does not listen for them). */
function other(eventName: string, ref: string, headRepository: string): Contexts {
  return {
    github: {
      event_name: eventName,
      repository: REPO,
      ref,
      sha: TIP,
      event: {
        repository: { full_name: REPO },
        pull_request: { head: { ref: "main", repo: { full_name: headRepository } } },
      },
    },
  };
}

const pushOnMain: Run = {
  conclusion: "success",
  event: "push",
  head_branch: "main",
  head_repository: REPO,
};

describe("deploy.yml: which runs deploy", () => {
  const guard = text(deployJob.if ?? null, "jobs.deploy.if");

  const deploys: [string, Contexts][] = [
    ["CI passed on a push to this repository's main", afterCi(pushOnMain)],
    ["a manual run (workflow_dispatch) on refs/heads/main", dispatched("refs/heads/main")],
  ];
  for (const [what, contexts] of deploys) {
    it(`deploys: ${what}`, () => {
      expect(condition(guard, contexts)).toBe(true);
    });
  }

  const refused: [string, Contexts][] = [
    [
      "CI passed on a pull request from a fork's branch called main",
      afterCi({ ...pushOnMain, event: "pull_request", head_repository: FORK }),
    ],
    [
      "CI passed on a pull request from this repository's main",
      afterCi({ ...pushOnMain, event: "pull_request" }),
    ],
    [
      "CI passed on a pull_request_target run from a fork's main",
      afterCi({ ...pushOnMain, event: "pull_request_target", head_repository: FORK }),
    ],
    ["CI passed on a push to a fork's main", afterCi({ ...pushOnMain, head_repository: FORK })],
    ["CI passed on a push to another branch", afterCi({ ...pushOnMain, head_branch: "dev" })],
    [
      "CI passed on a push to a branch named like main",
      afterCi({ ...pushOnMain, head_branch: "main-old" }),
    ],
    ["CI passed on a manual CI run", afterCi({ ...pushOnMain, event: "workflow_dispatch" })],
    ["CI failed on a push to main", afterCi({ ...pushOnMain, conclusion: "failure" })],
    ["CI was cancelled on a push to main", afterCi({ ...pushOnMain, conclusion: "cancelled" })],
    ["CI timed out on a push to main", afterCi({ ...pushOnMain, conclusion: "timed_out" })],
    ["CI was skipped on a push to main", afterCi({ ...pushOnMain, conclusion: "skipped" })],
    [
      "CI needs approval on a push to main",
      afterCi({ ...pushOnMain, conclusion: "action_required" }),
    ],
    ["CI has no conclusion", afterCi({ ...pushOnMain, conclusion: null })],
    ["a manual run on another branch", dispatched("refs/heads/feature")],
    ["a manual run on a tag called main", dispatched("refs/tags/main")],
    ["a manual run on a branch named like main", dispatched("refs/heads/main-old")],
    ["a manual run on a pull request's ref", dispatched("refs/pull/7/merge")],
    ["a pull_request event from a fork's main", other("pull_request", "refs/pull/7/merge", FORK)],
    [
      "a pull_request_target event from a fork's main",
      other("pull_request_target", "refs/heads/main", FORK),
    ],
    ["a push event on main", other("push", "refs/heads/main", REPO)],
  ];
  for (const [what, contexts] of refused) {
    it(`does not deploy: ${what}`, () => {
      expect(condition(guard, contexts)).toBe(false);
    });
  }

  it("listens only for CI's completion on main and for manual runs", () => {
    const on = map(deploy.on ?? null, "deploy.yml on");
    expect(Object.keys(on).sort()).toEqual(["workflow_dispatch", "workflow_run"]);
    expect(on.workflow_run).toEqual({
      workflows: [ci.name],
      types: ["completed"],
      branches: ["main"],
    });
    expect(ci.name).toBe("CI");
    // No inputs: nothing a dispatcher types reaches the job.
    expect(on.workflow_dispatch).toBeNull();
  });

  it("deploys the commit the guard judged: CI's head_sha, or the dispatched ref's", () => {
    const sha = text(map(deployJob.env ?? null, "deploy env").SHA ?? null, "env.SHA");
    expect(evaluate(sha, afterCi({ ...pushOnMain, head_sha: OLD }))).toBe(OLD);
    expect(evaluate(sha, dispatched("refs/heads/main"))).toBe(TIP);
    const checkout = deploySteps[0];
    expect(checkout?.uses).toMatch(/^actions\/checkout@/);
    expect(map(checkout?.with ?? null, "checkout with").ref).toBe("${{ env.SHA }}");
  });

  it("never lets two deploys run at once (a newer one waits for the older)", () => {
    expect(deploy.concurrency).toEqual({ group: "deploy", "cancel-in-progress": false });
  });
});

// ---- the newest-commit check -------------------------------------------------------------------

describe("deploy.yml: only main's newest commit", () => {
  it("checks origin/main's tip right after the checkout, and every later step waits on it", () => {
    expect(tipIndex).toBe(1);
    const later = deploySteps.slice(tipIndex + 1);
    expect(later.length).toBeGreaterThan(0);
    const steps = (latest: string | null) => ({
      steps: { tip: { outputs: latest === null ? {} : { latest }, outcome: "success" } },
    });
    for (const step of later) {
      const gate = text(step.if ?? null, `if: of ${JSON.stringify(step)}`);
      // The evaluator refuses status functions (always(), failure(), …), which would run the step
      // after a failed check; only `steps` is known to it here, so the gate reads nothing else.
      expect(condition(gate, steps("true"))).toBe(true);
      for (const latest of ["false", "", null]) expect(condition(gate, steps(latest))).toBe(false);
    }
    // The deploy itself is the last step, and it is gated like the rest.
    expect(later.at(-1)?.uses).toMatch(/^cloudflare\/wrangler-action@/);
  });

  it("keeps the secrets out of the job's env and every step up to the check", () => {
    expect(JSON.stringify(deployJob.env)).not.toMatch(/secrets\./i);
    for (const step of deploySteps.slice(0, tipIndex + 1)) {
      expect(JSON.stringify(step)).not.toMatch(/secrets\./i);
    }
    const users = deploySteps.filter((step) => /secrets\./i.test(JSON.stringify(step)));
    expect(users.map((step) => step.uses)).toEqual([expect.stringMatching(/^cloudflare\//)]);
  });

  describe("the check's script, run against a real repository", () => {
    let dir: string;
    let origin: string;
    let older: string;
    let newest: string;
    const script = () => text(deploySteps[tipIndex]?.run ?? null, "tip step run");

    function git(cwd: string, ...args: string[]): string {
      const result = spawnSync("git", args, {
        cwd,
        encoding: "utf8",
        env: {
          ...process.env,
          GIT_CONFIG_GLOBAL: "/dev/null",
          GIT_CONFIG_NOSYSTEM: "1",
          GIT_AUTHOR_NAME: "test",
          GIT_AUTHOR_EMAIL: "test@example.invalid",
          GIT_COMMITTER_NAME: "test",
          GIT_COMMITTER_EMAIL: "test@example.invalid",
        },
      });
      if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
      return result.stdout.trim();
    }

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "deploy-tip-test-"));
      origin = join(dir, "origin.git");
      const source = join(dir, "source");
      git(dir, "init", "-q", "--bare", "-b", "main", origin);
      git(dir, "init", "-q", "-b", "main", source);
      git(source, "commit", "-q", "--allow-empty", "-m", "older");
      older = git(source, "rev-parse", "HEAD");
      git(source, "commit", "-q", "--allow-empty", "-m", "newest");
      newest = git(source, "rev-parse", "HEAD");
      git(source, "push", "-q", origin, "main");
      // A branch whose name differs from main's only in case, at the older commit.
      git(source, "push", "-q", origin, `${older}:refs/heads/MAIN`);
    });

    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    /**
     * A workspace as actions/checkout leaves it given `ref: <sha>` and `fetch-depth: 1` (a SHA
     * alone is fetched without a destination ref, then checked out detached), then the step's
     * script under the shell GitHub runs `run:` with.
     */
    function runCheck(sha: string, options: { removeOrigin?: boolean } = {}) {
      const work = mkdtempSync(join(dir, "work-"));
      git(work, "init", "-q");
      git(work, "remote", "add", "origin", `file://${origin}`);
      git(work, "-c", "protocol.version=2", "fetch", "-q", "--no-tags", "--depth=1", "origin", sha);
      git(work, "checkout", "-q", "--force", "--detach", sha);
      if (options.removeOrigin) git(work, "remote", "set-url", "origin", `file://${dir}/gone.git`);
      const output = join(work, "github-output");
      writeFileSync(output, "");
      const result = spawnSync(
        "bash",
        ["--noprofile", "--norc", "-eo", "pipefail", "-c", script()],
        {
          cwd: work,
          encoding: "utf8",
          env: {
            PATH: process.env.PATH,
            SHA: sha,
            GITHUB_OUTPUT: output,
            GIT_CONFIG_GLOBAL: "/dev/null",
            GIT_CONFIG_NOSYSTEM: "1",
          },
        },
      );
      return { status: result.status, stdout: result.stdout, output: readFileSync(output, "utf8") };
    }

    it("lets main's newest commit through", () => {
      const result = runCheck(newest);
      expect(result.status).toBe(0);
      expect(result.output).toBe("latest=true\n");
    });

    it("stops an older commit of main whose CI finished after a newer one's", () => {
      const result = runCheck(older);
      expect(result.status).toBe(0);
      expect(result.output).toBe("latest=false\n");
      expect(result.stdout).toBe(
        `main is at ${newest} now; ${older} is older and is not deployed.\n`,
      );
    });

    it("fails (so no later step runs) when origin's main cannot be fetched", () => {
      const result = runCheck(newest, { removeOrigin: true });
      expect(result.status).not.toBe(0);
      expect(result.output).not.toContain("latest=true");
    });

    it("is what stops a manual run on a branch named MAIN, which the if: lets through", () => {
      // GitHub compares strings ignoring case, so github.ref == 'refs/heads/main' holds for
      // refs/heads/MAIN, a different branch in git; its commit is deployed only if it is main's tip.
      const guard = text(deployJob.if ?? null, "jobs.deploy.if");
      expect(condition(guard, dispatched("refs/heads/MAIN"))).toBe(true);
      // On workflow_dispatch, SHA is github.sha: the dispatched branch's tip.
      const dispatchedSha = git(dir, "--git-dir", origin, "rev-parse", "refs/heads/MAIN");
      expect(dispatchedSha).not.toBe(newest);
      expect(runCheck(dispatchedSha).output).toBe("latest=false\n");
    });
  });
});

// ---- CI ------------------------------------------------------------------------------------------

describe("ci.yml", () => {
  it("runs on pushes to main and on pull requests, never with the base repository's secrets", () => {
    const on = map(ci.on ?? null, "ci.yml on");
    expect(Object.keys(on).sort()).toEqual(["pull_request", "push"]);
    expect(on.push).toEqual({ branches: ["main"] });
    expect(workflows.ci).not.toMatch(/secrets\./);
  });

  it("checks out the code, then runs bash .ci/run, the project's CI entry point", () => {
    const jobs = jobsOf(ci, "ci.yml");
    expect(jobs.map(([name]) => name)).toEqual(["test"]);
    const steps = stepsOf((jobs[0] as [string, YMap])[1], "ci test");
    const checkout = steps.findIndex((step) => /^actions\/checkout@/.test(String(step.uses)));
    const run = steps.findIndex((step) => step.run === "bash .ci/run");
    expect(checkout).toBeGreaterThanOrEqual(0);
    expect(run).toBeGreaterThan(checkout);
    expect(steps[run]?.if).toBeUndefined();
    const entry = join(ROOT, ".ci/run");
    accessSync(entry, constants.X_OK);
    const body = readFileSync(entry, "utf8");
    expect(body.split("\n")[0]).toBe("#!/usr/bin/env bash");
    const commands = body.split("\n").filter((line) => /^npm /.test(line));
    expect(commands).toEqual([
      "npm ci --no-audit --no-fund",
      "npm run typecheck",
      "npm run lint",
      "npm test",
      "npm run bench:smoke",
    ]);
  });
});

// ---- both ----------------------------------------------------------------------------------------

describe.each(Object.entries(workflows))("%s.yml", (name, source) => {
  const workflow = map(parseYaml(source), `${name}.yml`);

  it("grants the token read access to the contents only", () => {
    expect(workflow.permissions).toEqual({ contents: "read" });
    for (const [job, body] of jobsOf(workflow, name)) {
      expect(body.permissions, `job ${job}`).toBeUndefined();
    }
  });

  it("pins every action to a full commit SHA, with the version it is in a comment", () => {
    const uses = jobsOf(workflow, name).flatMap(([job, body]) =>
      stepsOf(body, job).flatMap((step) => (step.uses === undefined ? [] : [step.uses])),
    );
    expect(uses.length).toBeGreaterThan(0);
    for (const action of uses) expect(action).toMatch(/^[\w.-]+\/[\w.\/-]+@[0-9a-f]{40}$/);
    const lines = source.split("\n").filter((line) => /^\s*(- )?uses:/.test(line));
    expect(lines).toHaveLength(uses.length);
    for (const line of lines) expect(line).toMatch(/@[0-9a-f]{40} # v\d+(\.\d+)*$/);
  });

  it("puts no ${{ }} expression into a run: script (values reach scripts through env)", () => {
    for (const [job, body] of jobsOf(workflow, name)) {
      for (const step of stepsOf(body, job)) {
        if (step.run !== undefined) expect(text(step.run, "run")).not.toContain("${{");
      }
    }
  });
});

it("pins each action to the same commit in both workflows", () => {
  const pins = new Map<string, Set<string>>();
  for (const source of Object.values(workflows)) {
    for (const m of source.matchAll(/uses: ([\w.\/-]+)@([0-9a-f]{40})/g)) {
      const [, action, sha] = m as unknown as [string, string, string];
      pins.set(action, (pins.get(action) ?? new Set()).add(sha));
    }
  }
  for (const [action, shas] of pins) expect([...shas], action).toHaveLength(1);
});
