// scripts/ensure-deps.mjs (every npm script's pre-step) against small fake projects: each test
// copies the script into a temporary directory with its own package.json, package-lock.json and
// node_modules, and puts a fake `npm` first (and alone) on PATH that records its arguments, so
// nothing is ever installed and the real npm is never reached.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SCRIPT = join(ROOT, "scripts/ensure-deps.mjs");

/** The fake project's direct dependencies, as its package-lock.json pins them. */
const LOCKED: Record<string, string> = {
  vitest: "4.1.12",
  wrangler: "4.86.0",
  "@scope/tool": "1.2.3",
};

let dir: string;
let bin: string;
let log: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ensure-deps-test-"));
  mkdirSync(join(dir, "scripts"));
  copyFileSync(SCRIPT, join(dir, "scripts/ensure-deps.mjs"));
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({
      name: "fake",
      private: true,
      type: "module",
      dependencies: { wrangler: LOCKED.wrangler },
      devDependencies: { vitest: LOCKED.vitest, "@scope/tool": LOCKED["@scope/tool"] },
    }),
  );
  const packages: Record<string, unknown> = { "": { name: "fake" } };
  for (const [name, version] of Object.entries(LOCKED)) {
    packages[`node_modules/${name}`] = { version, resolved: `https://example.invalid/${name}` };
  }
  // A transitive package the script must not look at.
  packages["node_modules/vitest/node_modules/tinyspy"] = { version: "9.9.9" };
  writeFileSync(
    join(dir, "package-lock.json"),
    JSON.stringify({ name: "fake", lockfileVersion: 3, requires: true, packages }),
  );
  // The fake npm: records its working directory and arguments, one call a line, and exits with
  // FAKE_NPM_EXIT. Shell builtins only: PATH holds nothing but this directory.
  bin = join(dir, "bin");
  log = join(dir, "npm-calls.log");
  mkdirSync(bin);
  writeFileSync(
    join(bin, "npm"),
    '#!/bin/sh\nprintf \'%s|%s\\n\' "$PWD" "$*" >> "$NPM_LOG"\nexit "${FAKE_NPM_EXIT:-0}"\n',
  );
  chmodSync(join(bin, "npm"), 0o755);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** node_modules as npm lays it out, with these versions at its top (undefined: not installed). */
function installed(versions: Record<string, string | undefined>): void {
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  writeFileSync(join(dir, "node_modules/.package-lock.json"), "{}");
  for (const [name, version] of Object.entries(versions)) {
    if (version === undefined) continue;
    mkdirSync(join(dir, "node_modules", name), { recursive: true });
    writeFileSync(
      join(dir, "node_modules", name, "package.json"),
      JSON.stringify({ name, version }),
    );
    writeFileSync(join(dir, "node_modules", name, "index.js"), `// ${name}@${version}\n`);
  }
}

/** Every file under node_modules with its contents: to show a tree was left exactly as it was. */
function snapshot(): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full);
      else files[relative(dir, full)] = readFileSync(full, "utf8");
    }
  };
  walk(join(dir, "node_modules"));
  return files;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Each npm call's arguments, in order. */
  npm: string[];
}

/** `node scripts/ensure-deps.mjs` in the fake project, as npm runs a pre-script. */
function run(
  options: { path?: string; npmExit?: number; nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {},
): Run {
  const result = spawnSync(
    process.execPath,
    [...(options.nodeArgs ?? []), "scripts/ensure-deps.mjs"],
    {
      cwd: dir,
      encoding: "utf8",
      timeout: 15_000,
      env: {
        PATH: options.path ?? bin,
        NPM_LOG: log,
        FAKE_NPM_EXIT: String(options.npmExit ?? 0),
        ...options.env,
      },
    },
  );
  if (result.error) throw result.error;
  const calls = existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
  for (const call of calls) expect(call.split("|")[0]).toBe(dir);
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    npm: calls.map((call) => call.slice(call.indexOf("|") + 1)),
  };
}

describe("with npm", () => {
  it("installs the pinned dependencies on a fresh clone (npm ci)", () => {
    const result = run();
    expect(result.npm).toEqual(["ci --no-audit --no-fund"]);
    expect(result.stdout).toBe(
      "node_modules is missing: installing the pinned dependencies (npm ci)...\n",
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("does nothing, silently, when node_modules matches package-lock.json", () => {
    installed(LOCKED);
    const before = snapshot();
    const result = run();
    expect(result.npm).toEqual([]);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(snapshot()).toEqual(before);
  });

  it("updates a stale tree in place (npm install), naming each package that differs", () => {
    installed({ ...LOCKED, vitest: "4.0.0", "@scope/tool": undefined });
    const before = snapshot();
    const result = run();
    expect(result.npm).toEqual(["install --no-audit --no-fund"]);
    expect(result.stdout).toBe(
      [
        "package-lock.json pins other versions than are installed:",
        "  vitest 4.0.0 → 4.1.12",
        "  @scope/tool (missing) → 1.2.3",
        "Updating node_modules in place (npm install)...",
        "",
      ].join("\n"),
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    // Never `npm ci`, which deletes node_modules first, and nothing deleted by the script itself
    // (the fake npm changes nothing).
    expect(result.npm.join("\n")).not.toMatch(/\bci\b/);
    expect(snapshot()).toEqual(before);
  });

  it("says so when a dependency is missing from package-lock.json, and installs", () => {
    const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8"));
    delete lock.packages["node_modules/@scope/tool"];
    writeFileSync(join(dir, "package-lock.json"), JSON.stringify(lock));
    installed(LOCKED);
    const result = run();
    expect(result.npm).toEqual(["install --no-audit --no-fund"]);
    expect(result.stdout).toContain("  @scope/tool 1.2.3 → (not in package-lock.json)\n");
    expect(result.status).toBe(0);
  });

  it("installs in place from a lockfile without a packages map (npm 6), without crashing", () => {
    writeFileSync(
      join(dir, "package-lock.json"),
      JSON.stringify({ name: "fake", lockfileVersion: 1, dependencies: {} }),
    );
    installed(LOCKED);
    const result = run();
    expect(result.npm).toEqual(["install --no-audit --no-fund"]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("fails with npm's exit code when npm fails", () => {
    const result = run({ npmExit: 7 });
    expect(result.npm).toEqual(["ci --no-audit --no-fund"]);
    expect(result.stderr).toBe("ensure-deps: npm ci failed (exit 7); see its output above.\n");
    expect(result.status).toBe(1);
  });
});

describe("when npm cannot start", () => {
  it("says why on a fresh clone", () => {
    const empty = join(dir, "empty-bin");
    mkdirSync(empty);
    const result = run({ path: empty });
    expect(result.stdout).toBe(
      "node_modules is missing: installing the pinned dependencies (npm ci)...\n",
    );
    expect(result.stderr).toBe(
      "ensure-deps: could not start npm (ENOENT): is npm installed and on PATH?\n",
    );
    expect(result.status).toBe(1);
  });

  it("says why when a stale tree needs npm install, and leaves the tree alone", () => {
    installed({ ...LOCKED, wrangler: "4.0.0" });
    const before = snapshot();
    const empty = join(dir, "empty-bin");
    mkdirSync(empty);
    const result = run({ path: empty });
    expect(result.stderr).toBe(
      "ensure-deps: could not start npm (ENOENT): is npm installed and on PATH?\n",
    );
    expect(result.status).toBe(1);
    expect(snapshot()).toEqual(before);
  });
});

describe("a tree another package manager installed", () => {
  const layouts = [
    { manager: "pnpm", marker: ".pnpm", directory: true },
    { manager: "pnpm", marker: ".modules.yaml", directory: false },
    { manager: "yarn", marker: ".yarn-integrity", directory: false }, // yarn classic
    { manager: "yarn", marker: ".yarn-state.yml", directory: false }, // yarn berry, node-modules linker
  ];

  for (const { manager, marker, directory } of layouts) {
    const mark = (): void => {
      const path = join(dir, "node_modules", marker);
      if (directory) mkdirSync(path);
      else writeFileSync(path, `# ${manager}\n`);
    };

    it(`is never touched when it differs (${manager}: node_modules/${marker})`, () => {
      installed({ ...LOCKED, wrangler: "4.80.0" });
      mark();
      const before = snapshot();
      const result = run();
      expect(result.npm).toEqual([]);
      expect(result.stdout).toBe("");
      expect(result.stderr).toBe(
        [
          `ensure-deps: node_modules was installed by ${manager} and differs from package-lock.json:`,
          "  wrangler 4.80.0 → 4.86.0",
          `Run \`${manager} install\` (this script never replaces another package manager's tree).`,
          "",
        ].join("\n"),
      );
      expect(result.status).toBe(1);
      expect(snapshot()).toEqual(before);
    });

    it(`is left alone, silently, when it matches (${manager}: node_modules/${marker})`, () => {
      installed(LOCKED);
      mark();
      const result = run();
      expect(result.npm).toEqual([]);
      expect(result.stdout + result.stderr).toBe("");
      expect(result.status).toBe(0);
    });
  }
});

describe("the Node.js version", () => {
  // The script's own check, run as it is: a module loaded first (--import) makes the script see
  // another `process.versions.node`, so no old Node is needed.
  const engines = (
    JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } }
  ).engines.node;
  const floor = /^>=(\d+)\.(\d+)\.0$/.exec(engines);

  function runAs(version: string): Run {
    const fake = join(dir, "fake-node-version.mjs");
    writeFileSync(
      fake,
      'Object.defineProperty(process, "versions", { value: { ...process.versions, node: process.env.FAKE_NODE_VERSION } });\n',
    );
    return run({
      nodeArgs: ["--import", pathToFileURL(fake).href],
      env: { FAKE_NODE_VERSION: version },
    });
  }

  it("is checked against package.json's engines.node", () => {
    expect(floor, `engines.node ${engines}`).not.toBeNull();
    expect(readFileSync(SCRIPT, "utf8")).toContain(
      `const MIN_NODE = [${floor![1]}, ${floor![2]}];`,
    );
  });

  for (const version of ["20.2.0", "20.0.0", "19.9.0", "18.20.4", "16.20.2"]) {
    it(`refuses Node.js ${version} before anything else`, () => {
      const result = runAs(version);
      expect(result.npm).toEqual([]);
      expect(result.stdout).toBe("");
      expect(result.stderr).toBe(
        `ensure-deps: Node.js ${version} is too old: this project needs 20.3 or newer.\n`,
      );
      expect(result.status).toBe(1);
    });
  }

  for (const version of ["20.3.0", "20.19.5", "21.0.0", "22.0.0", "24.11.1"]) {
    it(`accepts Node.js ${version}`, () => {
      const result = runAs(version);
      expect(result.stderr).toBe("");
      expect(result.npm).toEqual(["ci --no-audit --no-fund"]);
      expect(result.status).toBe(0);
    });
  }
});
