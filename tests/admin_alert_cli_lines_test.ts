/**
 * The break-glass ops alerts print admin CLI lines as the CLI's own refusals do (README
 * "Commands": every admin CLI line runs it with the Deno it runs on, `npx --yes deno@<version>
 * task admin …`, and starts with the `KV_PATH=…` it was run with, quoted as in Quick start), so
 * pasted, the undo of a demotion or a removal and the disable of an account made by break-glass
 * reach the server's store, not ./data/kv.sqlite3; each names the account's id.
 */
import assert from "node:assert/strict";
import { adminCli } from "../cli/admin.ts";
import { parseConfig } from "../config.ts";
import { systemClock } from "../core/clock.ts";
import { createServices } from "../services/mod.ts";
import { silentLogger } from "../core/log.ts";
import { noStripe } from "./helpers/app.ts";
import type { AdminView } from "../services/identity/accounts.ts";

const SIGNING_KEY = "cli-alert-lines-signing-key-0123456789abcdef";

async function run(kvPath: string, ...args: string[]) {
  const err: string[] = [];
  const out: string[] = [];
  const code = await adminCli(args, { KV_PATH: kvPath, AUDIT_SIGNING_KEY: SIGNING_KEY }, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  }, { lockWaitMs: 30_000 });
  assert.equal(code, 0, err.join("\n"));
  return out.join("\n");
}

async function create(kvPath: string, email: string, role: string): Promise<AdminView> {
  return JSON.parse(await run(kvPath, "create", "--email", email, "--role", role, "--json"));
}

async function alertsOf(kvPath: string) {
  const kv = await Deno.openKv(kvPath);
  try {
    const services = createServices({
      kv,
      clock: systemClock,
      stripe: noStripe,
      config: { ...parseConfig({ KV_PATH: kvPath }), auditSigningKey: SIGNING_KEY },
      log: silentLogger(),
    });
    return (await services.opsAlerts.list({ limit: 100 })).data;
  } finally {
    kv.close();
  }
}

Deno.test("break-glass alerts print admin CLI lines with the store's KV_PATH and the Deno that ran them", async () => {
  // a path a shell would split: the line quotes it, as the CLI's refusals do
  const dir = await Deno.makeTempDir({ prefix: "alert lines " });
  const kvPath = `${dir}/kv.sqlite3`;
  try {
    const a = await create(kvPath, "a@example.com", "admin");
    const b = await create(kvPath, "b@example.com", "admin");
    await run(kvPath, "set-role", "--id", b.id, "--role", "operator");
    await run(kvPath, "rotate-token", "--id", a.id);
    const cli = `KV_PATH='${kvPath}' npx --yes deno@${Deno.version.deno} task admin`;
    const alerts = await alertsOf(kvPath);

    const demoted = alerts.find((x) => x.kind === "admin_demoted" && x.admin_id === b.id);
    assert.ok(demoted, JSON.stringify(alerts.map((x) => x.kind)));
    assert.ok(
      demoted.detail.includes(`undo it with \`${cli} set-role --id ${b.id} --role admin\``),
      demoted.detail,
    );
    const created = alerts.find((x) => x.kind === "admin_created" && x.admin_id === a.id);
    assert.ok(created?.detail.includes(`\`${cli} disable --id ${a.id}\``), created?.detail);
    const reset = alerts.find((x) => x.kind === "admin_credentials_reset");
    assert.ok(reset?.detail.includes(`\`${cli} disable --id ${a.id}\``), reset?.detail);

    const c = await create(kvPath, "c@example.com", "admin");
    await run(kvPath, "disable", "--id", c.id);
    const disabled = (await alertsOf(kvPath)).find((x) =>
      x.kind === "admin_disabled" && x.admin_id === c.id
    );
    assert.ok(
      disabled?.detail.includes(`undo it with \`${cli} enable --id ${c.id}\``),
      disabled?.detail,
    );
    // every CLI line an alert prints is one to paste as it is
    for (const alert of await alertsOf(kvPath)) {
      const lines = alert.detail.match(/`[^`]*task admin[^`]*`/g) ?? [];
      for (const line of lines) assert.ok(line.startsWith(`\`${cli} `), `${alert.kind}: ${line}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("on the default store the alert's line has no KV_PATH, and still the Deno that ran it", async () => {
  const { adminCliLine } = await import("../core/store_command.ts");
  assert.equal(
    adminCliLine("./data/kv.sqlite3", "enable --id adm_1"),
    `npx --yes deno@${Deno.version.deno} task admin enable --id adm_1`,
  );
  assert.equal(adminCliLine(":memory:", "enable --id adm_1"), null);
});
