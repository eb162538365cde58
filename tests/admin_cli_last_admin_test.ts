/**
 * The break-glass CLI disables and demotes admins alone, "even the last admin
 * but one" (README, "Break-glass"), never the last one: a `disable` or
 * `set-role` that would leave no active admin exits 1, writes nothing and says
 * to create or enable another admin first. The check and the write are one
 * commit, so a burst of CLI runs (and the server's own changes) on the same
 * store never leaves it without an active admin. An admin the CLI disables
 * while no second admin is left to approve its re-enabling says, in its ops
 * alert, that `deno task admin enable` (on its store) is the way back.
 */
import assert from "node:assert/strict";
import { adminCli } from "../cli/admin.ts";
import { parseConfig } from "../config.ts";
import { systemClock } from "../core/clock.ts";
import { createServices } from "../services/mod.ts";
import { silentLogger } from "../core/log.ts";
import { noStripe } from "./helpers/app.ts";
import { auditEntries } from "./helpers/identity.ts";
import type { AdminView } from "../services/identity/accounts.ts";

/** the server's AUDIT_SIGNING_KEY, which the CLI is run with (README, Secrets) */
const SIGNING_KEY = "cli-last-admin-signing-key-0123456789abcdef";

async function run(kvPath: string, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await adminCli(args, { KV_PATH: kvPath, AUDIT_SIGNING_KEY: SIGNING_KEY }, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  }, { lockWaitMs: 30_000 });
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

async function create(kvPath: string, email: string, role: string): Promise<AdminView> {
  const r = await run(kvPath, "create", "--email", email, "--role", role, "--json");
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function withCliKv(fn: (kvPath: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "cli_last_admin_" });
  try {
    await fn(`${dir}/kv.sqlite3`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What the store holds: the accounts, the audit log and the ops alerts. */
async function storeOf(kvPath: string) {
  const kv = await Deno.openKv(kvPath);
  try {
    const services = createServices({
      kv,
      clock: systemClock,
      stripe: noStripe,
      config: { ...parseConfig({ KV_PATH: kvPath }), auditSigningKey: SIGNING_KEY },
      log: silentLogger(),
    });
    const admins = await services.identity.allAdmins();
    const alerts = (await services.opsAlerts.list({ limit: 100 })).data;
    return { admins, alerts, audit: await auditEntries(kv) };
  } finally {
    kv.close();
  }
}

const activeAdmins = (admins: AdminView[]) =>
  admins.filter((a) => a.status === "active" && a.role === "admin");

Deno.test("admin CLI: disable and set-role refuse to leave no active admin, writing nothing", async () => {
  await withCliKv(async (kvPath) => {
    const a = await create(kvPath, "a@example.com", "admin");
    const b = await create(kvPath, "b@example.com", "admin");
    // the last admin but one: allowed
    const first = await run(kvPath, "disable", "--id", b.id);
    assert.equal(first.code, 0, first.stderr);

    // its alert: no second admin is left to approve re-enabling it through the API
    const after = await storeOf(kvPath);
    const alert = after.alerts.find((x) => x.kind === "admin_disabled" && x.admin_id === b.id);
    assert.ok(alert, JSON.stringify(after.alerts));
    // the line as the CLI's own are typed: the store's KV_PATH, the Deno that ran it
    assert.ok(
      alert.detail.includes(
        `\`KV_PATH=${kvPath} npx --yes deno@${Deno.version.deno} task admin enable --id ${b.id}\``,
      ),
      alert.detail,
    );
    assert.doesNotMatch(alert.detail, /undo it with a second admin/);

    // the last one: refused, whatever the change
    for (
      const args of [
        ["disable", "--id", a.id],
        ["set-role", "--id", a.id, "--role", "viewer"],
        ["set-role", "--id", a.id, "--role", "operator", "--json"],
      ]
    ) {
      const r = await run(kvPath, ...args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stdout}`);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /would leave no active admin/);
      assert.match(r.stderr, /create or enable another admin first/);
      assert.match(r.stderr, /task admin create --email E --role admin/);
      assert.match(r.stderr, new RegExp(`task admin enable --id ${b.id}`));
      assert.match(r.stderr, /nothing was changed/);
    }
    const now = await storeOf(kvPath);
    assert.deepEqual(activeAdmins(now.admins).map((x) => x.id), [a.id]);
    assert.equal(now.audit.length, after.audit.length, "nothing written, nothing audited");
    assert.equal(now.alerts.length, after.alerts.length);

    // with another admin enabled again, the change goes through
    assert.equal((await run(kvPath, "enable", "--id", b.id)).code, 0);
    const demoted = await run(kvPath, "set-role", "--id", a.id, "--role", "operator");
    assert.equal(demoted.code, 0, demoted.stderr);
    // an admin the API can bring back (two admins left to ask and approve) says so
    const c = await create(kvPath, "c@example.com", "admin");
    const d = await create(kvPath, "d@example.com", "admin");
    assert.equal((await run(kvPath, "disable", "--id", d.id)).code, 0);
    const last = await storeOf(kvPath);
    const apiAlert = last.alerts.find((x) => x.kind === "admin_disabled" && x.admin_id === d.id);
    assert.ok(apiAlert);
    assert.match(apiAlert.detail, /PATCH \/api\/admin\/users/);
    assert.deepEqual(activeAdmins(last.admins).map((x) => x.id).sort(), [b.id, c.id].sort());
  });
});

Deno.test("admin CLI: a burst of disables and demotions on one store leaves an active admin", async () => {
  for (let round = 0; round < 16; round++) {
    await withCliKv(async (kvPath) => {
      // two admins, then three: each removed by one run and demoted by another, all at once
      const n = 2 + round % 2;
      const admins: AdminView[] = [];
      for (let i = 0; i < n; i++) admins.push(await create(kvPath, `r${i}@example.com`, "admin"));
      // each CLI run opens the store on its own handle: a real race on the file
      const results = await Promise.all(
        admins.flatMap((a, i) => [
          run(kvPath, "disable", "--id", a.id),
          run(kvPath, "set-role", "--id", admins[(i + 1) % n].id, "--role", "viewer"),
        ]),
      );
      const { admins: now, audit } = await storeOf(kvPath);
      const left = activeAdmins(now);
      assert.ok(left.length >= 1, JSON.stringify({ now, results }));
      // each run either landed, lost to another change (read it again), or was refused as the
      // last admin's removal, which writes nothing
      for (const r of results) {
        if (r.code === 0) continue;
        assert.equal(r.code, 1);
        assert.match(r.stderr, /would leave no active admin|changed while this request/);
      }
      assert.ok(!audit.some((e) => /would leave no active admin/.test(e.reason ?? "")));
      const removals = audit.filter((e) =>
        (e.action === "user.disable" || e.action === "user.update") && e.result === "ok"
      );
      for (const a of left) assert.ok(!removals.some((e) => e.target?.id === a.id));
    });
  }
});

Deno.test("admin CLI: runs racing the server's own removals on the same store leave an active admin", async () => {
  for (let round = 0; round < 8; round++) {
    await withCliKv(async (kvPath) => {
      const [a, b, c] = [
        await create(kvPath, "a@example.com", "admin"),
        await create(kvPath, "b@example.com", "admin"),
        await create(kvPath, "c@example.com", "admin"),
      ];
      // the server: its own handle on the file, admin a disabling b through the API's path
      const kv = await Deno.openKv(kvPath);
      try {
        const server = createServices({
          kv,
          clock: systemClock,
          stripe: noStripe,
          config: { ...parseConfig({ KV_PATH: kvPath }), auditSigningKey: SIGNING_KEY },
          log: silentLogger(),
        });
        const asA = {
          actor: { type: "admin" as const, id: a.id, role: a.role },
          request: { request_id: "req_race", ip: "127.0.0.1", user_agent: null },
          second_factor: true,
        };
        await Promise.all([
          server.identity.updateAdmin(asA, b.id, { status: "disabled" }).catch(() => null),
          run(kvPath, "disable", "--id", round % 2 ? a.id : c.id),
          run(kvPath, "set-role", "--id", round % 2 ? c.id : a.id, "--role", "viewer"),
        ]);
      } finally {
        kv.close();
      }
      const left = activeAdmins((await storeOf(kvPath)).admins);
      assert.ok(left.length >= 1, `round ${round}: no active admin left`);
    });
  }
});
