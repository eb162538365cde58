/**
 * An enrollment code speaks for the account as it was when issued, and is
 * refused once the account changed after it (README, "Accounts and
 * enrollment"). The change that hands a code over stamps the account in the
 * same commit, so the code must carry that commit's time, never a clock
 * reading taken a millisecond earlier. Here the clock moves on every read, as
 * the system clock does under load.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  accountMadeBy,
  createAdmin,
  disableAdmin,
  jsonRequest,
  otpHeaders,
  patchUser,
} from "./helpers/identity.ts";
import { ManualClock } from "../core/clock.ts";
import { systemContext } from "../domain/actor.ts";

/** A clock a millisecond later on every read. */
class TickingClock extends ManualClock {
  override now(): number {
    const t = super.now();
    this.advance(1);
    return t;
  }
}

async function enroll(t: TestApp, code: string) {
  const res = await t.app.request("/api/admin/enroll", jsonRequest("POST", {}, { code }));
  return { status: res.status, body: await res.json() };
}

const clock = () => new TickingClock(Date.UTC(2026, 10, 26, 9, 0, 0));

Deno.test("a code handed over by the CLI's enable redeems though the clock moved during the commit", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const o = await createAdmin(t, "operator");
    await disableAdmin(t, a, o.id);
    const r = await t.services.identity.updateAdmin(systemContext("cli"), o.id, {
      status: "active",
    });
    const enrolled = await enroll(t, r.handover!.enrollment_code);
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    assert.equal(enrolled.body.admin.id, o.id);
  }, { clock: clock() });
});

Deno.test("a code handed over by an admin re-enabling a viewer, or by the approver of a reactivation, redeems under a moving clock", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const v = await accountMadeBy(t, a, "viewer"); // not yet enrolled: a re-enables it alone
    const o = await createAdmin(t, "operator");
    await disableAdmin(t, a, v.id);
    await disableAdmin(t, a, o.id);
    const direct = await patchUser(t, a, v.id, { status: "active" });
    assert.equal(direct.status, 200);
    const viewerCode = (await direct.json()).handover.enrollment_code;
    assert.equal((await enroll(t, viewerCode)).status, 200);

    const asked = await patchUser(t, a, o.id, { status: "active" });
    assert.equal(asked.status, 202);
    const pending = (await asked.json()).pending_approval;
    const approved = await t.app.request(
      `/api/admin/approvals/${pending.id}/approve`,
      jsonRequest("POST", otpHeaders(t, b), { approval_hash: pending.approval_hash }),
    );
    const body = await approved.json();
    assert.equal(approved.status, 200, JSON.stringify(body));
    const code = JSON.stringify(body).match(/enr_[A-Za-z0-9_-]+/)?.[0];
    assert.ok(code, JSON.stringify(body));
    const enrolled = await enroll(t, code);
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    assert.equal(enrolled.body.admin.id, o.id);
  }, { clock: clock() });
});
