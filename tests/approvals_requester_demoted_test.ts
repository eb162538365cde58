/**
 * Every request in the approvals queue stands only while its requester still
 * holds what the request needed (README, "Two-person rules"): an admin who
 * asked to loosen a fraud rule and was demoted since has that request voided
 * at approval, as a demoted operator's refund is.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { createAdmin, otpHeaders, sendJson, type TestAdmin } from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";
import { APPROVAL_POLICY } from "../domain/approval.ts";
import { can } from "../domain/permissions.ts";

/** The admin's request to loosen the velocity rule (a second admin approves it). */
async function askLoosening(t: TestApp, admin: TestAdmin) {
  const asked = await sendJson(
    t,
    "PUT",
    "/api/admin/payments/fraud/rules/velocity",
    otpHeaders(t, admin),
    { alert_at: 50 },
  );
  assert.equal(asked.status, 202, JSON.stringify(asked.body));
  return asked;
}

Deno.test("attack: a demoted admin's pending fraud rule loosening is void at approval, audited, and the rule unchanged", async () => {
  await withTestApp(async (t) => {
    const rogue = await createAdmin(t, "admin");
    const approver = await createAdmin(t, "admin");
    const asked = await askLoosening(t, rogue);
    const id = asked.body.approval.id;
    await t.services.identity.updateAdmin(systemContext("cli"), rogue.id, { role: "analyst" });
    const res = await sendJson(
      t,
      "POST",
      `/api/admin/approvals/${id}/approve`,
      otpHeaders(t, approver),
      {},
    );
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.match(res.body.detail, /is now analyst and may no longer change fraud rules/);
    assert.equal((await t.services.approvals.get(id)).status, "expired");
    const rules = await t.services.fraud.listRules();
    const velocity = rules.find((r: { rule: string }) => r.rule === "velocity");
    assert.notEqual(velocity?.alert_at, 50);
  });
});

Deno.test("every kind in the policy table names a permission its requester must keep, which some role holds", () => {
  for (const [kind, policy] of Object.entries(APPROVAL_POLICY)) {
    assert.ok(policy.requester.what.length > 0, kind);
    assert.ok(
      ["operator", "admin"].some((role) => can(role, policy.requester.permission)),
      `${kind}: ${policy.requester.permission}`,
    );
  }
});

Deno.test("attack: demoted and promoted back, the requester's old request stays void", async () => {
  await withTestApp(async (t) => {
    const rogue = await createAdmin(t, "admin");
    const approver = await createAdmin(t, "admin");
    const asked = await askLoosening(t, rogue);
    const cli = systemContext("cli");
    t.clock.advance(1000);
    await t.services.identity.updateAdmin(cli, rogue.id, { role: "analyst" });
    t.clock.advance(1000);
    await t.services.identity.updateAdmin(cli, rogue.id, { role: "admin" });
    const res = await sendJson(
      t,
      "POST",
      `/api/admin/approvals/${asked.body.approval.id}/approve`,
      otpHeaders(t, approver),
      {},
    );
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.match(res.body.detail, /was demoted \(at .*\) after asking/);
  });
});
