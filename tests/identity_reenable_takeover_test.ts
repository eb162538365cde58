/**
 * One admin alone never obtains new credentials for an account its person
 * enrolled (README, "Two-person rules"): re-enabling such an account, whatever
 * its role, is a `user.reactivate` request a third person approves, whose
 * answer carries the code, and an `admin_enabled` ops alert is raised. An
 * account nobody enrolled yet is re-enabled at once only by whoever already
 * held its code (its creator), as on creation.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  accountMadeBy,
  createAdmin,
  disableAdmin,
  meStatus,
  otpHeaders,
  patchUser,
  sendJson,
} from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";

/** `code` redeemed: the person's own token. */
async function enrolled(t: TestApp, code: string): Promise<string> {
  const res = await sendJson(t, "POST", "/api/admin/enroll", {}, { code });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.token;
}

async function alertsAbout(t: TestApp, id: string) {
  return (await t.services.opsAlerts.list({ limit: 100 })).data.filter((a) => a.admin_id === id);
}

Deno.test("attack: a rogue admin cannot take over an enrolled auditor by rotate-token, disable and re-enable", async () => {
  await withTestApp(async (t) => {
    const creator = await createAdmin(t, "admin");
    const rogue = await createAdmin(t, "admin");
    const third = await createAdmin(t, "admin");
    const auditor = await accountMadeBy(t, creator, "auditor");
    const auditorToken = await enrolled(t, auditor.code);
    assert.equal(await meStatus(t, auditorToken), 200);

    const rotate = await sendJson(
      t,
      "POST",
      `/api/admin/users/${auditor.id}/rotate-token`,
      otpHeaders(t, rogue),
    );
    assert.equal(rotate.status, 202, JSON.stringify(rotate.body));
    assert.equal(rotate.body.kind, "user.rotate_token");
    await disableAdmin(t, rogue, auditor.id);
    const res = await patchUser(t, rogue, auditor.id, { status: "active" });
    const body = await res.json();
    assert.equal(res.status, 202, JSON.stringify(body));
    assert.equal(body.handover, undefined, "no code for the re-enabling admin alone");
    assert.equal(body.admin.status, "disabled");
    const request = body.pending_approval;
    assert.equal(request.kind, "user.reactivate");
    assert.equal((await t.services.identity.getAdmin(auditor.id)).status, "disabled");
    assert.deepEqual(await alertsAbout(t, auditor.id), []);

    // the rogue cannot approve their own request
    const self = await sendJson(
      t,
      "POST",
      `/api/admin/approvals/${request.id}/approve`,
      otpHeaders(t, rogue),
      { approval_hash: request.approval_hash },
    );
    assert.equal(self.status, 403, JSON.stringify(self.body));

    // a third person approves: their answer carries the code, an ops alert tells the others
    const ok = await sendJson(
      t,
      "POST",
      `/api/admin/approvals/${request.id}/approve`,
      otpHeaders(t, third),
      { approval_hash: request.approval_hash },
    );
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const code = ok.body.approval.handover?.enrollment_code;
    assert.match(code ?? "", /^enr_/);
    assert.equal((await t.services.identity.getAdmin(auditor.id)).status, "active");
    assert.equal(await meStatus(t, auditorToken), 401, "the old token stays revoked");
    const alerts = await alertsAbout(t, auditor.id);
    assert.equal(alerts.length, 1, JSON.stringify(alerts));
    assert.equal(alerts[0].kind, "admin_enabled");
    assert.deepEqual(alerts[0].acted_by, [rogue.id, third.id]);
    assert.equal(await meStatus(t, await enrolled(t, code)), 200);
    // the rogue's rotation, asked for the account as it was, hands nothing over now (to
    // someone linked to neither: the third person is linked to the account since approving)
    const fourth = await createAdmin(t, "admin");
    const stale = await sendJson(
      t,
      "POST",
      `/api/admin/approvals/${rotate.body.id}/approve`,
      otpHeaders(t, fourth),
      { approval_hash: rotate.body.approval_hash },
    );
    assert.equal(stale.status, 409, JSON.stringify(stale.body));
    assert.equal((await t.services.approvals.get(rotate.body.id)).status, "expired");
  });
});

Deno.test("attack: an operator demoted to viewer, disabled and re-enabled by one admin gets no code to that admin", async () => {
  await withTestApp(async (t) => {
    const rogue = await createAdmin(t, "admin");
    await createAdmin(t, "admin");
    const operator = await createAdmin(t, "operator");
    const demoted = await patchUser(t, rogue, operator.id, { role: "viewer" });
    assert.equal(demoted.status, 200, await demoted.text());
    await disableAdmin(t, rogue, operator.id);
    const res = await patchUser(t, rogue, operator.id, { status: "active" });
    const body = await res.json();
    assert.equal(res.status, 202, JSON.stringify(body));
    assert.equal(body.handover, undefined);
    assert.equal(body.pending_approval.kind, "user.reactivate");
    assert.equal((await t.services.identity.getAdmin(operator.id)).status, "disabled");
  });
});

Deno.test("an account nobody enrolled yet is re-enabled at once by its creator, who gets a new code for the new person", async () => {
  await withTestApp(async (t) => {
    const creator = await createAdmin(t, "admin");
    const viewer = await accountMadeBy(t, creator, "viewer");
    await disableAdmin(t, creator, viewer.id);
    const res = await patchUser(t, creator, viewer.id, { status: "active" });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.pending_approval, null);
    const code = body.handover?.enrollment_code;
    assert.match(code ?? "", /^enr_/);
    // the first code no longer opens it; the new one does
    const old = await sendJson(t, "POST", "/api/admin/enroll", {}, { code: viewer.code });
    assert.equal(old.status, 401, JSON.stringify(old.body));
    assert.equal(await meStatus(t, await enrolled(t, code)), 200);
    assert.deepEqual(await alertsAbout(t, viewer.id), [], "nobody's credentials changed hands");
  });
});

Deno.test("attack: a rogue admin cannot disable and re-enable someone else's not yet enrolled account to get its code", async () => {
  await withTestApp(async (t) => {
    const creator = await createAdmin(t, "admin");
    const rogue = await createAdmin(t, "admin");
    const auditor = await accountMadeBy(t, creator, "auditor");
    await disableAdmin(t, rogue, auditor.id);
    const res = await patchUser(t, rogue, auditor.id, { status: "active" });
    const body = await res.json();
    assert.equal(res.status, 202, JSON.stringify(body));
    assert.equal(body.handover, undefined);
    assert.equal(body.pending_approval.kind, "user.reactivate");
  });
});

Deno.test("the CLI re-enabling an enrolled viewer raises an admin_enabled ops alert: whoever ran it holds the code", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const v = await createAdmin(t, "viewer");
    await disableAdmin(t, a, v.id);
    const r = await t.services.identity.updateAdmin(systemContext("cli"), v.id, {
      status: "active",
    });
    assert.match(r.handover?.enrollment_code ?? "", /^enr_/);
    const alerts = await alertsAbout(t, v.id);
    assert.deepEqual(alerts.map((x) => x.kind), ["admin_enabled"]);
  });
});
