// A proxy locked with PROXY_USERS and an ALLOW list, pulled through with skopeo: logged-in users pull, nobody else does.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startProxy } from "./fixture/proxy.mjs";
import { makeSkopeoHome, pullToDir, readPulledImage, type SkopeoHome } from "./fixture/skopeo.mjs";
import { makeTempDir, type TempDir } from "./fixture/tempdir.mjs";

const USER = "ci-user:correct-horse";

describe.skipIf(inject("e2eSkipReason"))("a proxy that requires a login", () => {
  const stack = inject("stack");
  let temp: TempDir;
  let home: SkopeoHome;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let pulls = 0;

  beforeAll(async () => {
    temp = makeTempDir("cf-registry-proxy-security-");
    home = await makeSkopeoHome(join(temp.path, "home"));
    proxy = await startProxy({
      dir: join(temp.path, "proxy"),
      upstreams: { docker: stack.hub.url, ghcr: stack.ghcr.url },
      vars: {
        PROXY_USERS: `${USER},other:secret`,
        ALLOW: "docker.io/library/*,docker.io/someuser/tool",
      },
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    temp?.remove();
  });

  const pull = (reference: string, creds?: string) =>
    pullToDir(home, `${proxy.host}/${reference}`, join(temp.path, `pull-${++pulls}`), { creds });

  it("lets a user with the proxy's password pull, with the upstream's exact image", async () => {
    const direct = await pullToDir(
      home,
      `${stack.hub.host}/library/alpine:3`,
      join(temp.path, "direct"),
    );
    expect(direct.code, direct.stderr).toBe(0);
    const dir = join(temp.path, `pull-${pulls + 1}`);
    const result = await pull("alpine:3", USER);
    expect(result.code, result.stderr).toBe(0);
    expect((await readPulledImage(dir)).digest).toBe(
      (await readPulledImage(join(temp.path, "direct"))).digest,
    );
  });

  it.each([
    ["without credentials", undefined],
    ["with a wrong password", "ci-user:wrong"],
    ["with the upstream's credentials instead of the proxy's", stack.pullCreds],
  ])("refuses a pull %s", async (_, creds) => {
    const result = await pull("alpine:3", creds);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/unauthorized|authentication required|denied/i);
  });

  it("refuses a logged-in user a public repository that is not on the allow list", async () => {
    // The same pull succeeds anonymously through the stack's open proxy (same upstream), so the
    // repository is public and served: only ALLOW can refuse it here.
    const open = await pullToDir(
      home,
      `${stack.proxy.host}/someuser/unlisted:1`,
      join(temp.path, "unlisted-open"),
    );
    expect(open.code, open.stderr).toBe(0);

    const result = await pull("someuser/unlisted:1", USER);
    expect(result.code).not.toBe(0);
    // skopeo prints only the status of the refused token request; the proxy's body says why.
    expect(result.stderr, result.stderr).toMatch(/denied|allow list|403 \(Forbidden\)/i);
    // The login itself is not scoped (a locked proxy decides the policy per repository request,
    // where the route is known); the repository request with the user's token is refused.
    const login = await fetch(`${proxy.url}/v2/auth`, {
      headers: { authorization: `Basic ${Buffer.from(USER).toString("base64")}` },
    });
    const { token } = (await login.json()) as { token: string };
    const refused = await fetch(`${proxy.url}/v2/someuser/unlisted/manifests/1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({
      errors: [{ code: "DENIED", message: expect.stringMatching(/allow list/) }],
    });
  });

  it("answers scanners with OCI errors, not the upstream", async () => {
    for (const path of ["/v2/", "/v2/library/alpine/manifests/3", "/v2/_catalog", "/v2/auth"]) {
      const response = await fetch(`${proxy.url}${path}`);
      expect(response.status, path).toBeGreaterThanOrEqual(400);
      expect(response.status, path).toBeLessThan(500);
      const body = (await response.json()) as { errors: Array<{ code: string }> };
      expect(body.errors[0]?.code).toMatch(/^[A-Z_]+$/);
    }
  });
});
