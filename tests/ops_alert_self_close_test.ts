/**
 * An ops alert about an account is there so the other admins see it (README,
 * "Ops alerts", "Break-glass"): nobody closes one about their own account, nor
 * one about an account linked to them (the two-person rules' links), nor one
 * reporting what they did themselves (an admin disabled or demoted by them).
 * The refusal is `403 self_approval_forbidden` with its `rule`, audited
 * `ops_alert.close` denied, nothing written; anyone else closes it as before.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  approvedAccount,
  auditEntries,
  authHeaders,
  createAdmin,
  otpHeaders,
  patchUser,
  sendJson,
  type TestAdmin,
} from "./helpers/identity.ts";
import { parsePrometheus, sampleValue } from "./helpers/prometheus.ts";
import { systemContext } from "../domain/actor.ts";
import { BREAK_GLASS_ACTOR } from "../domain/system_actors.ts";
import type { OpsAlertView } from "../services/ops_alerts.ts";

const BASE = "/api/admin/payments/ops-alerts";

/** `deno task admin create` as the CLI runs it: the account and its credentials. */
async function createByCli(t: TestApp, role: "operator" | "admin"): Promise<TestAdmin> {
  const email = `cli-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const made = await t.services.identity.createAdmin(systemContext(BREAK_GLASS_ACTOR), {
    email,
    role,
  });
  return {
    id: made.admin.id,
    email,
    role,
    token: made.token,
    totpSecret: made.totp_secret,
    otpauthUri: made.otpauth_uri,
    recoveryCodes: made.recovery_codes,
    lastOtpStep: null,
  };
}

async function openAbout(t: TestApp, adminId: string, kind: string): Promise<OpsAlertView> {
  const page = await t.services.opsAlerts.list({ status: "open", limit: 100 });
  const alert = page.data.find((a) => a.admin_id === adminId && a.kind === kind);
  assert.ok(alert, `an open ${kind} alert about ${adminId}`);
  return alert;
}

function close(t: TestApp, by: TestAdmin, id: string, note = "checked who ran it") {
  return sendJson(t, "POST", `${BASE}/${id}/close`, otpHeaders(t, by), { note });
}

async function openGauge(t: TestApp, by: TestAdmin, kind: string) {
  const res = await t.app.request("/metrics", { headers: authHeaders(by) });
  assert.equal(res.status, 200);
  return sampleValue(parsePrometheus(await res.text()), "payops_ops_alerts_open", { kind });
}

async function deniedCloses(t: TestApp, alertId: string) {
  return (await auditEntries(t.kv)).filter((e) =>
    e.action === "ops_alert.close" && e.target?.id === alertId && e.result === "denied"
  );
}

Deno.test("attack: an operator the CLI made cannot close the admin_created alert about itself, even in a burst", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const second = await createByCli(t, "operator");
    const alert = await openAbout(t, second.id, "admin_created");

    const refused = await close(t, second, alert.id);
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.code, "self_approval_forbidden");
    assert.equal(refused.body.rule, "self_approval_forbidden");
    assert.match(refused.body.detail, /your own account/);
    assert.equal((await t.services.opsAlerts.get(alert.id)).status, "open");
    const denied = await deniedCloses(t, alert.id);
    assert.equal(denied.length, 1);
    assert.equal(denied[0].actor.id, second.id);

    // a burst of closes by the subject: every one refused, nothing closed
    const burst = await Promise.all(
      Array.from({ length: 6 }, (_, i) => close(t, second, alert.id, `burst ${i}`)),
    );
    assert.deepEqual(burst.map((r) => r.status), Array(6).fill(403));
    assert.equal((await t.services.opsAlerts.get(alert.id)).status, "open");
    assert.equal(await openGauge(t, admin, "admin_created"), 1);

    // another admin closes it as before
    const closed = await close(t, admin, alert.id);
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.equal(closed.body.closed_by, admin.id);
    assert.equal(await openGauge(t, admin, "admin_created"), 0);
  });
});

Deno.test("attack: an account linked to the subject (its requester, its approver) cannot close an alert about it", async () => {
  await withTestApp(async (t) => {
    const [a, b, c] = [
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
    ];
    const linked = await approvedAccount(t, a, b, "operator"); // a asked, b approved
    await t.services.identity.rotateToken(systemContext(BREAK_GLASS_ACTOR), linked.id);
    const alert = await openAbout(t, linked.id, "admin_credentials_reset");

    for (const who of [a, b]) {
      const refused = await close(t, who, alert.id);
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.code, "self_approval_forbidden");
      assert.equal(refused.body.rule, "linked_account");
      assert.match(refused.body.detail, new RegExp(linked.id));
    }
    assert.equal((await deniedCloses(t, alert.id)).length, 2);
    assert.equal((await t.services.opsAlerts.get(alert.id)).status, "open");
    const closed = await close(t, c, alert.id);
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
  });
});

Deno.test("attack: whoever disabled or demoted an admin alone cannot close the alert it raised; nor the demoted admin", async () => {
  await withTestApp(async (t) => {
    const [x, y, z] = [
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
    ];
    const demoted = await patchUser(t, x, y.id, { role: "operator" });
    assert.equal(demoted.status, 200, await demoted.text());
    y.role = "operator";
    const alert = await openAbout(t, y.id, "admin_demoted");
    assert.deepEqual((alert as { acted_by?: string[] }).acted_by, [x.id]);

    const byActor = await close(t, x, alert.id);
    assert.equal(byActor.status, 403, JSON.stringify(byActor.body));
    assert.equal(byActor.body.rule, "self_approval_forbidden");
    assert.match(byActor.body.detail, /you did/);
    const bySubject = await close(t, y, alert.id);
    assert.equal(bySubject.status, 403, JSON.stringify(bySubject.body));
    assert.equal(bySubject.body.rule, "self_approval_forbidden");
    assert.equal((await deniedCloses(t, alert.id)).length, 2);

    const closed = await close(t, z, alert.id);
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
  });
});
