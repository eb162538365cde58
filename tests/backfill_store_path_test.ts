/**
 * `deno task backfill` fills the server's store (README, Stripe webhooks, "Lost
 * events"): run with a KV_PATH where no store is (a typo, another working
 * directory) it exits 1 naming KV_PATH, before reading Stripe, and creates
 * nothing, rather than filling a new, empty store the server never reads.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

Deno.test("backfill on a KV_PATH with no store exits 1 naming it and creates nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/typo/kv.sqlite3`;
    const proc = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "cli/backfill.ts", "--since", "1d"],
      cwd: ROOT,
      // an address nothing answers at: the refusal must come before any Stripe call
      env: { KV_PATH: path, STRIPE_API_URL: "http://127.0.0.1:9", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(proc.stderr);
    assert.equal(proc.code, 1, stderr);
    assert.match(stderr, /no store at .*typo\/kv\.sqlite3/);
    assert.match(stderr, /KV_PATH/);
    assert.doesNotMatch(stderr, /stripe call failed/);
    await assert.rejects(Deno.stat(`${dir}/typo`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("backfill on KV_PATH=:memory: exits 1 before reading Stripe: it would fill a store of its own", async () => {
  const proc = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "cli/backfill.ts", "--since", "1d"],
    cwd: ROOT,
    env: { KV_PATH: ":memory:", STRIPE_API_URL: "http://127.0.0.1:9", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(proc.stderr);
  assert.equal(proc.code, 1, stderr);
  assert.match(stderr, /KV_PATH=:memory: is an in-memory store/);
  assert.doesNotMatch(stderr, /stripe call failed|backfill failed/);
  assert.doesNotMatch(new TextDecoder().decode(proc.stdout), /backfill (since|done)/);
});
