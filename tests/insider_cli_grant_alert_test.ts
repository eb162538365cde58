/**
 * The break-glass CLI acts alone by design; so that the other admins see it,
 * an account that can approve (operator, admin) created, re-enabled or
 * promoted through it raises an ops alert (`admin_created`, `admin_enabled`,
 * `admin_promoted`) in the commit of its audit entry, as the CLI's disabling
 * of an admin raises `admin_disabled` (README, "Break-glass", "Ops alerts").
 * Roles that cannot approve, and the API's two-person paths, raise none.
 */
import assert from "node:assert/strict";
import { adminCli } from "../cli/admin.ts";
import { parseConfig } from "../config.ts";
import { systemClock } from "../core/clock.ts";
import { createServices } from "../services/mod.ts";
import { createDemoAdmin } from "../services/identity/mod.ts";
import { silentLogger } from "../core/log.ts";
import { noStripe, withTestApp } from "./helpers/app.ts";
import { approvedAccount, auditEntries, createAdmins, otpHeaders } from "./helpers/identity.ts";

/** the server's AUDIT_SIGNING_KEY, which the CLI is run with (README, Secrets) */
const SIGNING_KEY = "cli-alert-signing-key-0123456789abcdef";

async function cli(kvPath: string, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await adminCli(args, { KV_PATH: kvPath, AUDIT_SIGNING_KEY: SIGNING_KEY }, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  assert.equal(code, 0, err.join("\n"));
  return args.includes("--json") ? JSON.parse(out.join("\n")) : out.join("\n");
}

/** `deno task admin create --email … --role … --json`: the account made. */
function createByCli(kvPath: string, email: string, role: string) {
  return cli(kvPath, "create", "--email", email, "--role", role, "--json");
}

async function withCliKv(fn: (kvPath: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "cli_alert_" });
  try {
    await fn(`${dir}/kv.sqlite3`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function alertsOn(kvPath: string) {
  const kv = await Deno.openKv(kvPath);
  try {
    const services = createServices({
      kv,
      clock: systemClock,
      stripe: noStripe,
      config: {
        ...parseConfig({ KV_PATH: kvPath }),
        auditSigningKey: SIGNING_KEY,
      },
      log: silentLogger(),
    });
    const alerts = (await services.opsAlerts.list({ limit: 100 })).data.reverse();
    return { alerts, audit: await auditEntries(kv) };
  } finally {
    kv.close();
  }
}

Deno.test("attack: an admin or operator made, re-enabled or promoted with the CLI raises an ops alert", async () => {
  await withCliKv(async (kvPath) => {
    const admin = await createByCli(kvPath, "root@example.com", "admin");
    const viewer = await createByCli(kvPath, "v@example.com", "viewer");
    const op = await createByCli(kvPath, "op@example.com", "operator");
    await cli(kvPath, "disable", "--id", op.id);
    await cli(kvPath, "enable", "--id", op.id, "--json");
    await cli(kvPath, "set-role", "--id", viewer.id, "--role", "operator", "--json");
    await cli(kvPath, "set-role", "--id", op.id, "--role", "admin", "--json");
    // not a grant: a demotion (its own alert), a role that cannot approve
    await cli(kvPath, "set-role", "--id", viewer.id, "--role", "analyst", "--json");

    const { alerts, audit } = await alertsOn(kvPath);
    assert.deepEqual(alerts.map((a) => [a.kind, a.admin_id, a.status]), [
      ["admin_created", admin.id, "open"],
      ["admin_created", op.id, "open"],
      ["admin_enabled", op.id, "open"],
      ["admin_promoted", viewer.id, "open"],
      ["admin_promoted", op.id, "open"],
    ]);
    for (const a of alerts) {
      assert.match(a.detail, /break-glass \(cli\)/, a.detail);
      assert.match(a.detail, new RegExp(a.admin_id!), a.detail);
    }
    assert.match(alerts[0].detail, /admin/);
    assert.match(alerts[3].detail, /viewer.*operator/);
    // each in the commit of its audit entry
    const raised = audit.filter((e) => e.action === "ops_alert.raise");
    assert.equal(raised.length, alerts.length);
  });
});

Deno.test("attack: new credentials the CLI gives an operator or admin raise admin_credentials_reset; a viewer's or the API's raise none", async () => {
  await withCliKv(async (kvPath) => {
    const admin = await createByCli(kvPath, "a@example.com", "admin");
    const viewer = await createByCli(kvPath, "v@example.com", "viewer");
    const before = (await alertsOn(kvPath)).alerts.length;
    await cli(kvPath, "rotate-token", "--id", admin.id, "--json");
    await cli(kvPath, "reset-2fa", "--id", admin.id, "--json");
    await cli(kvPath, "rotate-token", "--id", viewer.id, "--json");
    await cli(kvPath, "reset-2fa", "--id", viewer.id, "--json");
    const { alerts, audit } = await alertsOn(kvPath);
    const fresh = alerts.slice(before);
    assert.deepEqual(fresh.map((a) => [a.kind, a.admin_id]), [
      ["admin_credentials_reset", admin.id],
      ["admin_credentials_reset", admin.id],
    ]);
    assert.match(fresh[0].detail, /new API token.*break-glass \(cli\)/);
    assert.match(fresh[1].detail, /new second factor/);
    const raised = audit.filter((e) => e.action === "ops_alert.raise");
    assert.equal(raised.length, alerts.length, "each in the commit of its audit entry");
  });
  await withTestApp(async (t) => {
    const [a] = await createAdmins(t, 1);
    // an admin's own rotation through the API is theirs, not someone else's: no alert
    const res = await t.app.request("/api/admin/me/rotate-token", {
      method: "POST",
      headers: otpHeaders(t as Required<typeof t>, a),
    });
    assert.equal(res.status, 200, await res.text());
    assert.deepEqual((await t.services.opsAlerts.list({ limit: 100 })).data, []);
  });
});

Deno.test("accounts made by tests, the demo or a second admin's approval raise no such alert", async () => {
  await withTestApp(async (t) => {
    assert.ok(await createDemoAdmin(t.services));
    const [a, b] = await createAdmins(t, 2);
    await approvedAccount(t, a, b, "operator");
    const kinds = (await t.services.opsAlerts.list({ limit: 100 })).data.map((x) => x.kind);
    assert.deepEqual(kinds, []);
  });
});

Deno.test("README's Break-glass and Ops alerts sections, and the document, name the alerts", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  for (
    const kind of ["admin_created", "admin_enabled", "admin_promoted", "admin_credentials_reset"]
  ) {
    assert.ok(readme.includes(`\`${kind}\``), kind);
  }
  await withTestApp(async (t) => {
    const doc = await (await t.app.request("/openapi.json")).json();
    const kind = doc.components.schemas.OpsAlert.properties.kind;
    for (
      const k of ["admin_created", "admin_enabled", "admin_promoted", "admin_credentials_reset"]
    ) {
      assert.ok(kind.enum.includes(k), k);
      assert.match(kind.description, new RegExp(k));
    }
  });
});
