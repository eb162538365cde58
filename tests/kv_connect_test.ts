/**
 * KV_PATH as a KV Connect URL, against the test KV Connect server in the role
 * of a self-hosted `denokv`: main.ts serves requests from it, the admin CLI
 * creates and lists admins on it while the server runs, and the doctor names
 * an unreachable server and a wrong access token with their fixes. Every
 * program runs as operators run it (`deno task …` in a child process), with
 * DENO_KV_ACCESS_TOKEN in its environment, which is where Deno reads it.
 */
import assert from "node:assert/strict";
import { startTestEmulator } from "./helpers/emulator.ts";
import {
  ACCESS_TOKEN,
  childEnv,
  freePort,
  type KvConnectServer,
  withKvConnect,
} from "./helpers/kv_connect/mod.ts";
import type { Emulator } from "../emulator/mod.ts";
import { ROOT, spawnCollected } from "./helpers/child_process.ts";

const SECRET = "whsec_" + "K1v2C3d4".repeat(4);

function serviceEnv(kvUrl: string, emu: Emulator | null, extra: Record<string, string> = {}) {
  return childEnv({
    KV_PATH: kvUrl,
    DENO_KV_ACCESS_TOKEN: ACCESS_TOKEN,
    STRIPE_SECRET_KEY: "sk_test_kvconnect",
    STRIPE_API_URL: emu?.url ?? "http://127.0.0.1:9",
    STRIPE_WEBHOOK_SECRETS: SECRET,
    AUDIT_SIGNING_KEY: "kvconnect-signing-key-0123456789abcdef",
    LOG_FORMAT: "json",
    ...extra,
  });
}

async function task(env: Record<string, string>, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", ...args],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** main.ts in a child process; its output is collected for the assertions and for failures. */
function startServer(env: Record<string, string>) {
  const server = spawnCollected(Deno.execPath(), ["run", "--allow-all", "--quiet", "main.ts"], env);
  return {
    ...server,
    stop(): Promise<number> {
      try {
        server.child.kill("SIGTERM");
      } catch { /* already gone */ }
      return server.exited();
    },
  };
}

async function waitReady(port: number, server: ReturnType<typeof startServer>) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`server never became ready:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function withService(
  fn: (
    ctx: { kvc: KvConnectServer; emu: Emulator; port: number; env: Record<string, string> },
  ) => Promise<void>,
) {
  const emu = await startTestEmulator();
  try {
    await withKvConnect(async (kvc) => {
      const port = freePort();
      const env = serviceEnv(kvc.url, emu, { PORT: String(port) });
      const server = startServer(env);
      try {
        await waitReady(port, server);
        await fn({ kvc, emu, port, env });
      } finally {
        const code = await server.stop();
        assert.equal(code, 0, server.output());
        assert.match(server.output(), /"msg":"stopped"/);
      }
    });
  } finally {
    await emu.close();
  }
}

Deno.test("main.ts serves from a KV Connect URL; the admin CLI creates and lists admins on it meanwhile", async () => {
  await withService(async ({ kvc, port, env }) => {
    const writesAtStart = kvc.counts.atomic_write ?? 0;
    assert.ok(writesAtStart > 0, "the server stamped the layout and its secrets remotely");
    // Two CLIs at once while the server runs: a remote store has no file lock to wait for.
    const [a, b] = await Promise.all([
      task(env, "admin", "create", "--email", "ops@example.com", "--role", "operator", "--json"),
      task(env, "admin", "create", "--email", "boss@example.com", "--role", "admin", "--json"),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.doesNotMatch(a.stderr + b.stderr, /locked/i);
    const created = JSON.parse(a.stdout);

    const me = await fetch(`http://127.0.0.1:${port}/api/admin/me`, {
      headers: { authorization: `Bearer ${created.token}` },
    });
    assert.equal(me.status, 200);
    const body = await me.json();
    assert.equal(body.id, created.id);
    assert.equal(body.email, "ops@example.com");
    assert.equal(body.role, "operator");

    const list = await task(env, "admin", "list");
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${created.id}\\s+ops@example.com\\s+operator\\s+active`));
    assert.match(list.stdout, /boss@example.com\s+admin\s+active/);

    const disabled = await task(env, "admin", "disable", "--id", created.id);
    assert.equal(disabled.code, 0, disabled.stderr);
    const refused = await fetch(`http://127.0.0.1:${port}/api/admin/me`, {
      headers: { authorization: `Bearer ${created.token}` },
    });
    await refused.body?.cancel();
    assert.equal(refused.status, 401, "the server reads the CLI's change from the same store");
    assert.ok((kvc.counts.snapshot_read ?? 0) > 0);
  });
});

Deno.test("main.ts and the admin CLI stop with the fix on a wrong DENO_KV_ACCESS_TOKEN", async () => {
  await withKvConnect(async (kvc) => {
    const env = serviceEnv(kvc.url, null, {
      PORT: String(freePort()),
      DENO_KV_ACCESS_TOKEN: "not-the-token",
    });
    const server = startServer(env);
    const code = await server.exited();
    await server.stop();
    assert.equal(code, 1);
    assert.match(server.output(), /refused DENO_KV_ACCESS_TOKEN .*Invalid access token/);
    assert.match(server.output(), /set DENO_KV_ACCESS_TOKEN to the access token the denokv/);
    assert.doesNotMatch(server.output(), /Uncaught/);

    const cli = await task(env, "admin", "list");
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^error: the KV Connect server at .* refused DENO_KV_ACCESS_TOKEN/);
    assert.equal(kvc.counts.metadata ?? 0, 0);
  });
});

function doctorLines(out: string, check: string): string {
  const lines = out.split("\n");
  const i = lines.findIndex((l) => l.includes(`  ${check}: `));
  return i < 0 ? "" : lines.slice(i, i + 2).join("\n");
}

Deno.test("doctor reports an unreachable KV Connect URL and a wrong access token, with fixes", async () => {
  const emu = await startTestEmulator();
  try {
    emu.setWebhook({ url: "https://payops.example/api/webhooks/stripe", secret: SECRET });
    await withKvConnect(async (kvc) => {
      const good = await task(serviceEnv(kvc.url, emu), "doctor");
      assert.equal(good.code, 0, good.stdout + good.stderr);
      assert.match(good.stdout, new RegExp(`ok +kv: reachable at ${kvc.url}`));

      const wrong = await task(
        serviceEnv(kvc.url, emu, { DENO_KV_ACCESS_TOKEN: "not-the-token" }),
        "doctor",
      );
      assert.equal(wrong.code, 1);
      const kvWrong = doctorLines(wrong.stdout, "kv");
      assert.match(kvWrong, /^FAIL +kv: the KV Connect server at .* refused DENO_KV_ACCESS_TOKEN/);
      assert.match(kvWrong, /fix: set DENO_KV_ACCESS_TOKEN to the access token the denokv server/);

      const missing = await task(
        serviceEnv(kvc.url, emu, { DENO_KV_ACCESS_TOKEN: "" }),
        "doctor",
      );
      assert.equal(missing.code, 1);
      assert.match(doctorLines(missing.stdout, "kv"), /DENO_KV_ACCESS_TOKEN is not set/);
    });

    const down = `http://127.0.0.1:${freePort()}`;
    const unreachable = await task(serviceEnv(down, emu), "doctor");
    assert.equal(unreachable.code, 1);
    const kvDown = doctorLines(unreachable.stdout, "kv");
    assert.match(kvDown, new RegExp(`^FAIL +kv: nothing answers at ${down}`));
    assert.match(kvDown, /fix: start the denokv server/);
  } finally {
    await emu.close();
  }
});
