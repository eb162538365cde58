/**
 * KV_PATH mistakes met by the admin CLI and the server (README, Commands and
 * Configuration): a mistyped path is no new, empty store to list or change
 * (only `create` starts one: the first admin of a new deployment), and a path
 * whose directory cannot be made is an error naming KV_PATH and the fix, not
 * a stack trace.
 */
import assert from "node:assert/strict";
import { admin } from "./helpers/demo_store.ts";
import { KvOpenError, prepareStoreFile } from "../kv/open.ts";

/** the server's AUDIT_SIGNING_KEY, which the CLI is run with (README, Secrets) */
const SIGNING_KEY = "store-path-signing-key-0123456789abcdef";

const run = (kvPath: string, ...args: string[]) =>
  admin({ KV_PATH: kvPath, AUDIT_SIGNING_KEY: SIGNING_KEY }, ...args);

const exists = async (path: string) => {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
};

Deno.test("admin list/disable on a KV_PATH with no store exits 1 naming it, and creates nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/typo/kv.sqlite3`;
    for (const args of [["list"], ["disable", "--id", "adm_01M97HA9S02VZMWCDRVY1QZC6N"]]) {
      const r = await run(path, ...args);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /no store at .*typo\/kv\.sqlite3/);
      assert.match(r.stderr, /KV_PATH/);
      assert.doesNotMatch(r.stderr, /admin create/, "no advice to create an admin there");
    }
    assert.equal(await exists(`${dir}/typo`), false, "nothing was created");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("admin create on a KV_PATH with no store starts one (a new deployment's first admin)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await run(
      `${dir}/new/kv.sqlite3`,
      "create",
      "--email",
      "a@example.com",
      "--role",
      "admin",
      "--json",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).email, "a@example.com");
    // which store it wrote to: with --json, the object's `store` (stdout stays one JSON object)
    assert.equal(JSON.parse(r.stdout).store, `${dir}/new/kv.sqlite3`);
    assert.doesNotMatch(r.stderr, /wrote to/);
    // another admin, so disabling the first leaves one (README, "Break-glass")
    const second = await run(
      `${dir}/new/kv.sqlite3`,
      "create",
      "--email",
      "b@example.com",
      "--role",
      "admin",
    );
    assert.equal(second.code, 0, second.stderr);
    const disabled = await run(
      `${dir}/new/kv.sqlite3`,
      "disable",
      "--id",
      JSON.parse(r.stdout).id,
    );
    assert.equal(disabled.code, 0, disabled.stderr);
    // without --json, one line on stderr
    assert.match(disabled.stderr, /^wrote to the store at .*\/new\/kv\.sqlite3 \(KV_PATH\)$/m);
    const listed = await run(`${dir}/new/kv.sqlite3`, "list");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /a@example\.com/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a KV_PATH whose directory cannot be made is an error naming KV_PATH and the fix", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/afile`, "x");
    const path = `${dir}/afile/sub/kv.sqlite3`;
    const r = await run(path, "create", "--email", "a@example.com", "--role", "admin");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: cannot make the directory .*afile\/sub for KV_PATH/);
    assert.match(r.stderr, /check KV_PATH/);
    await assert.rejects(prepareStoreFile(path), (e) => {
      assert.ok(e instanceof KvOpenError);
      assert.match(e.message, /KV_PATH/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("admin on KV_PATH=:memory: exits 1 saying no CLI reaches an in-memory store; nothing is printed as done", async () => {
  for (
    const args of [
      ["create", "--email", "second@example.com", "--role", "operator"],
      ["create", "--email", "second@example.com", "--role", "operator", "--json"],
      ["list"],
      ["rotate-token", "--id", "adm_01M97HA9S02VZMWCDRVY1QZC6N"],
    ]
  ) {
    const r = await run(":memory:", ...args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stdout}`);
    assert.equal(r.stdout, "", "no token, no account printed");
    assert.match(r.stderr, /^error: KV_PATH=:memory: is an in-memory store/);
    assert.match(r.stderr, /only through the server's API/);
    assert.doesNotMatch(r.stderr, /wrote to the store/);
  }
});
