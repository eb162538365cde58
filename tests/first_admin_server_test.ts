/**
 * main.ts in a child process with FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE on a new
 * store (README, "Deploying to Deno Deploy"): the start makes the first admin, the code enrolls
 * it over HTTP, a second start makes nothing and warns, and the code is in no line either printed.
 */
import assert from "node:assert/strict";
import { childEnv, freePort } from "./helpers/kv_connect/mod.ts";
import { spawnCollected } from "./helpers/child_process.ts";
import { withEmulator } from "./helpers/emulator.ts";

const CODE = "Zx9+Qk2/Lm4Rt7Wn1Bc8Md3Hs6Fj0Ga5Pe2Yu7Io4=";

Deno.test("a start makes the first admin from the environment, never printing its code", async () => {
  await withEmulator(async ({ emu }) => {
    const dir = await Deno.makeTempDir({ prefix: "first_admin_" });
    try {
      const port = freePort();
      const env = childEnv({
        KV_PATH: `${dir}/kv.sqlite3`,
        PORT: String(port),
        STRIPE_SECRET_KEY: "sk_test_first_admin",
        STRIPE_API_URL: emu.url,
        STRIPE_WEBHOOK_SECRETS: "whsec_" + "A1b2C3d4".repeat(4),
        AUDIT_SIGNING_KEY: "first-admin-signing-key-0123456789abcdef",
        LOG_FORMAT: "json",
        FIRST_ADMIN_EMAIL: "founder@example.com",
        FIRST_ADMIN_ENROLLMENT_CODE: CODE,
      });
      const start = () => spawnCollected(Deno.execPath(), ["run", "-A", "--quiet", "main.ts"], env);
      const first = start();
      await first.waitFor(/"msg":"listening"/, "the first start listening");
      assert.match(first.output(), /first admin created from FIRST_ADMIN_EMAIL/);
      assert.match(first.output(), /ops alert: admin_created/);
      const res = await fetch(`http://127.0.0.1:${port}/api/admin/enroll`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ code: CODE }),
      });
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.admin.email, "founder@example.com");
      assert.match(body.token, /^pot_/);
      first.child.kill("SIGTERM");
      assert.equal(await first.exited(), 0);
      const second = start();
      await second.waitFor(/"msg":"listening"/, "the second start listening");
      assert.match(second.output(), /are no longer used: remove them/);
      second.child.kill("SIGTERM");
      assert.equal(await second.exited(), 0);
      for (const run of [first, second]) {
        assert.ok(!run.output().includes(CODE), `the code was printed:\n${run.output()}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
