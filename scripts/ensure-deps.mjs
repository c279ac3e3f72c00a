// Makes `npm run dev` and `npm test` work as the first commands on a fresh clone: installs the
// pinned dev dependencies when node_modules is missing, and brings an npm-installed tree up to
// date (incrementally, `npm install`, never wiping it) when package-lock.json pins other
// versions than are installed. A tree installed by pnpm or yarn is never touched: it is named,
// with the command to run. When npm itself cannot start, it says why.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

/** @type {[major: number, minor: number]} */
const MIN_NODE = [20, 3];

const [major, minor] = /** @type {[number, number]} */ (
  process.versions.node.split(".").map(Number)
);
if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
  fail(
    `Node.js ${process.versions.node} is too old: this project needs ${MIN_NODE.join(".")} or newer.`,
  );
}

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
/** @type {Record<string, { version?: string }>} npm 7+ lockfiles; an older one has none, and installs. */
const locked = lock.packages ?? {};
const manifest = JSON.parse(readFileSync("package.json", "utf8"));
const direct = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies });

if (!existsSync("node_modules")) {
  install(["ci"], "node_modules is missing: installing the pinned dependencies (npm ci)");
} else {
  const foreign = otherPackageManager();
  const stale = direct.filter(
    (name) => installedVersion(name) !== locked[`node_modules/${name}`]?.version,
  );
  if (stale.length > 0) {
    const what = stale.map(
      (name) =>
        `${name} ${installedVersion(name) ?? "(missing)"} → ${locked[`node_modules/${name}`]?.version ?? "(not in package-lock.json)"}`,
    );
    if (foreign) {
      fail(
        `node_modules was installed by ${foreign} and differs from package-lock.json:\n  ${what.join("\n  ")}\n` +
          `Run \`${foreign} install\` (this script never replaces another package manager's tree).`,
      );
    }
    install(
      ["install"],
      `package-lock.json pins other versions than are installed:\n  ${what.join("\n  ")}\nUpdating node_modules in place (npm install)`,
    );
  }
}

/**
 * The version of a package installed at the top of node_modules, if any.
 * @param {string} name
 * @returns {string | undefined}
 */
function installedVersion(name) {
  try {
    return JSON.parse(readFileSync(`node_modules/${name}/package.json`, "utf8")).version;
  } catch {
    return undefined;
  }
}

/**
 * pnpm or yarn, when one of them laid out node_modules.
 * @returns {"pnpm" | "yarn" | undefined}
 */
function otherPackageManager() {
  if (existsSync("node_modules/.pnpm") || existsSync("node_modules/.modules.yaml")) return "pnpm";
  if (existsSync("node_modules/.yarn-state.yml") || existsSync("node_modules/.yarn-integrity"))
    return "yarn";
  return undefined;
}

/**
 * Runs npm with these arguments in this terminal; fails when it cannot start or fails.
 * @param {string[]} args
 * @param {string} why  printed first
 */
function install(args, why) {
  console.log(`${why}...`);
  // Windows starts npm.cmd only through a shell (Node refuses to spawn .cmd files directly since
  // 20.12.2); the arguments are fixed words, so the shell sees nothing of anyone's input.
  const result = spawnSync("npm", [...args, "--no-audit", "--no-fund"], {
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  if (result.error) {
    const error = /** @type {NodeJS.ErrnoException} */ (result.error);
    fail(`could not start npm (${error.code ?? error.message}): is npm installed and on PATH?`);
  }
  if (result.status !== 0)
    fail(`npm ${args[0]} failed (exit ${result.status ?? result.signal}); see its output above.`);
}

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  console.error(`ensure-deps: ${message}`);
  process.exit(1);
}
