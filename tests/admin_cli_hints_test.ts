/**
 * What the admin CLI tells the person at the terminal (README, Commands and
 * Quick start): every `deno task admin` line it prints names the store it was
 * run on (`KV_PATH=…`, shell-quoted when needed) so that, pasted, it reaches
 * the same store; and a verb that finds the account already as asked says so
 * and that nothing was written.
 */
import assert from "node:assert/strict";
import { admin } from "./helpers/demo_store.ts";

/** How the printed lines run a task: with the Deno that runs this (README, Quick start). */
const TASK = `npx --yes deno@${Deno.version.deno} task`;

/** the server's AUDIT_SIGNING_KEY, which the CLI is run with (README, Secrets) */
const SIGNING_KEY = "cli-hints-signing-key-0123456789abcdef";

const run = (kvPath: string, ...args: string[]) =>
  admin({ KV_PATH: kvPath, AUDIT_SIGNING_KEY: SIGNING_KEY }, ...args);

/** `create` of a@example.com as admin on the store at `path`: its id */
async function createAdmin(path: string): Promise<string> {
  const created = await run(
    path,
    "create",
    "--email",
    "a@example.com",
    "--role",
    "admin",
    "--json",
  );
  assert.equal(created.code, 0, created.stderr);
  return JSON.parse(created.stdout).id;
}

/** how often `part` occurs in `text` */
const count = (text: string, part: string) => text.split(part).length - 1;

async function withStore(fn: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(`${dir}/my data/kv.sqlite3`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("admin CLI hints carry the store's KV_PATH, shell-quoted", async () => {
  await withStore(async (path) => {
    const quoted = `KV_PATH='${path}' ${TASK} admin`;
    const id = await createAdmin(path);

    // the email exists: the hints name rotate-token, reset-2fa and enable on this store
    const again = await run(path, "create", "--email", "a@example.com", "--role", "operator");
    assert.equal(again.code, 1);
    const hint = again.stderr.slice(again.stderr.indexOf("for new credentials"));
    assert.equal(count(hint, `${TASK} admin`), 3, again.stderr);
    assert.equal(count(hint, quoted), 3, again.stderr);
    assert.ok(hint.includes(`${quoted} rotate-token --id ${id}`), again.stderr);

    // no such account: the list to find its id, on this store
    const missing = await run(path, "disable", "--id", "adm_01M97HA9S02VZMWCDRVY1QZC6N");
    assert.equal(missing.code, 1);
    assert.ok(missing.stderr.includes(`${quoted} list`), missing.stderr);
  });
});

Deno.test("admin list on a store with no admins names the create line on that store", async () => {
  await withStore(async (path) => {
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    (await Deno.openKv(path)).close();
    const r = await run(path, "list");
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      r.stdout.includes(`KV_PATH='${path}' ${TASK} admin create --email E --role admin`),
      r.stdout,
    );
  });
});

Deno.test("admin enable/disable/set-role on an account already so: says it, writes nothing", async () => {
  await withStore(async (path) => {
    const id = await createAdmin(path);
    const before = JSON.parse((await run(path, "list", "--json")).stdout)[0];

    const enable = await run(path, "enable", "--id", id);
    assert.equal(enable.code, 0, enable.stderr);
    assert.match(enable.stdout, /is already active; nothing was changed/);
    assert.doesNotMatch(enable.stdout, /enabled admin/);
    assert.doesNotMatch(enable.stderr, /wrote to/);
    assert.match(enable.stderr, /nothing written to the store at .*\(KV_PATH\)/);
    // for new credentials on an active account: the commands on this store
    assert.ok(enable.stdout.includes(`KV_PATH='${path}' ${TASK} admin rotate-token --id ${id}`));

    const enableJson = JSON.parse((await run(path, "enable", "--id", id, "--json")).stdout);
    assert.equal(enableJson.changed, false);
    assert.equal(enableJson.handover, undefined);

    const sameRole = await run(path, "set-role", "--id", id, "--role", "admin", "--json");
    assert.equal(sameRole.code, 0, sameRole.stderr);
    assert.equal(JSON.parse(sameRole.stdout).changed, false);
    const sameRoleText = await run(path, "set-role", "--id", id, "--role", "admin");
    assert.match(sameRoleText.stdout, /is already admin; nothing was changed/);

    const after = JSON.parse((await run(path, "list", "--json")).stdout)[0];
    assert.equal(after.updated_at, before.updated_at, "nothing written");

    // a change is said as one, and --json says changed: true (with another admin left: the
    // CLI never disables the last one, README "Break-glass")
    const other = await run(path, "create", "--email", "b@example.com", "--role", "admin");
    assert.equal(other.code, 0, other.stderr);
    const disable = await run(path, "disable", "--id", id, "--json");
    assert.equal(JSON.parse(disable.stdout).changed, true);
    const disableAgain = await run(path, "disable", "--id", id);
    assert.equal(disableAgain.code, 0, disableAgain.stderr);
    assert.match(disableAgain.stdout, /is already disabled; nothing was changed/);
    assert.match(disableAgain.stderr, /nothing written to the store/);
    const reEnable = await run(path, "enable", "--id", id, "--json");
    const r = JSON.parse(reEnable.stdout);
    assert.equal(r.changed, true);
    assert.match(r.handover.enrollment_code, /^enr_/);
  });
});
