/**
 * An enrollment code opens an account only as it was when the code was issued
 * (README, "Accounts and enrollment"), however close in time the change that
 * follows it: here the clock is frozen at one millisecond, so the code, the
 * change after it and the code that change hands over all carry the same time.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { adminContext, createAdmin, jsonRequest } from "./helpers/identity.ts";
import { ManualClock } from "../core/clock.ts";
import { systemContext } from "../domain/actor.ts";

const FROZEN_AT = Date.UTC(2026, 10, 26, 9, 0, 0, 123);

async function enroll(t: TestApp, code: string) {
  const res = await t.app.request("/api/admin/enroll", jsonRequest("POST", {}, { code }));
  return { status: res.status, body: await res.json() };
}

Deno.test("a code kept from before a role grant approved in the same millisecond opens nothing; the approver's code does", async () => {
  await withTestApp(async (t) => {
    const r = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    // R makes a viewer and keeps its code instead of handing it over
    const viewer = await t.services.identity.requestAccount(adminContext(r), {
      email: "same-ms@example.com",
      role: "viewer",
    });
    const kept = viewer.enrollment_code!;
    const asked = await t.services.identity.updateAdmin(adminContext(r), viewer.admin!.id, {
      role: "operator",
    });
    const pending = asked.pending_approval!;
    const approved = await t.services.approvals.approve(adminContext(b), pending.id, {
      approval_hash: pending.approval_hash,
    });
    const handed = approved.request?.handover?.enrollment_code;
    assert.match(String(handed), /^enr_/);
    assert.equal(t.clock.now(), FROZEN_AT, "every step ran in the same millisecond");

    const stale = await enroll(t, kept);
    assert.equal(stale.status, 401, JSON.stringify(stale.body));
    assert.match(stale.body.detail, /changed after this code was issued/);
    const enrolled = await enroll(t, String(handed));
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    assert.equal(enrolled.body.admin.role, "operator");
  }, { clock: new ManualClock(FROZEN_AT) });
});

Deno.test("a code handed over by a re-enabling is dead once a role change follows in the same millisecond", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const v = await createAdmin(t, "viewer");
    const cli = systemContext("cli");
    await t.services.identity.updateAdmin(cli, v.id, { status: "disabled" });
    const enabled = await t.services.identity.updateAdmin(cli, v.id, { status: "active" });
    const first = enabled.admin ? enabled.handover?.enrollment_code : undefined;
    assert.match(String(first), /^enr_/);
    // the same millisecond: support for the viewer, as one admin may grant alone
    const regranted = await t.services.identity.updateAdmin(adminContext(a), v.id, {
      role: "support",
    });
    assert.equal(regranted.admin?.role, "support");
    assert.equal(t.clock.now(), FROZEN_AT, "every step ran in the same millisecond");

    const stale = await enroll(t, String(first));
    assert.equal(stale.status, 401, JSON.stringify(stale.body));
    assert.match(stale.body.detail, /changed after this code was issued/);
  }, { clock: new ManualClock(FROZEN_AT) });
});
