/**
 * Re-enabling an account never brings back its old credentials (README,
 * "Accounts and enrollment"): whether it needs a second admin is judged by
 * the account as it is while disabled, never by a role sent with it;
 * whoever re-enables (the approver, the creator alone of a role that cannot
 * approve nobody enrolled yet, the CLI) receives a one-time enrollment code
 * for new ones.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  authHeaders,
  createAdmin,
  disableAdmin,
  jsonRequest,
  meStatus,
  otpHeaders,
  patchUser,
} from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";

async function enroll(t: TestApp, code: string) {
  const res = await t.app.request("/api/admin/enroll", jsonRequest("POST", {}, { code }));
  return { status: res.status, body: await res.json() };
}

Deno.test("attack: a disabled operator re-enabled with role viewer in the same PATCH is judged as an operator (409), its old token stays dead", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const o = await createAdmin(t, "operator");
    await disableAdmin(t, a, o.id);
    const res = await patchUser(t, a, o.id, { status: "active", role: "viewer" });
    assert.equal(res.status, 409, await res.text());
    const after = await t.services.identity.getAdmin(o.id);
    assert.deepEqual([after.status, after.role], ["disabled", "operator"]);
    assert.equal(await meStatus(t, o.token), 401);
  });
});

Deno.test("attack: a disabled operator cannot be downgraded before it is re-enabled (no path around user.reactivate)", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const o = await createAdmin(t, "operator");
    await disableAdmin(t, a, o.id);
    const res = await patchUser(t, a, o.id, { role: "viewer" });
    assert.equal(res.status, 409, await res.text());
    assert.equal(await t.services.identity.getAdmin(o.id).then((x) => x.role), "operator");
    const again = await patchUser(t, a, o.id, { status: "active" });
    assert.equal(again.status, 202);
    assert.equal((await again.json()).pending_approval.kind, "user.reactivate");
  });
});

Deno.test("re-enabling a disabled viewer its person enrolled waits for a third person and hands over new credentials: old token and second factor stay revoked", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const v = await createAdmin(t, "viewer");
    await disableAdmin(t, a, v.id);
    const res = await patchUser(t, a, v.id, { status: "active" });
    assert.equal(res.status, 202);
    const asked = await res.json();
    assert.equal(asked.handover, undefined, "no code for the admin asking");
    const pending = asked.pending_approval;
    assert.equal(pending.kind, "user.reactivate");
    const approved = await t.app.request(
      `/api/admin/approvals/${pending.id}/approve`,
      jsonRequest("POST", otpHeaders(t, b), { approval_hash: pending.approval_hash }),
    );
    assert.equal(approved.status, 200);
    assert.equal(approved.headers.get("cache-control"), "no-store");
    const body = await approved.json();
    assert.equal((await t.services.identity.getAdmin(v.id)).status, "active");
    const code = body.approval.handover?.enrollment_code;
    assert.match(code ?? "", /^enr_/);
    assert.equal(await meStatus(t, v.token), 401, "the old token stays dead");
    const enrolled = await enroll(t, code);
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    assert.equal(enrolled.body.admin.id, v.id);
    assert.ok(enrolled.body.totp_secret, "a new second factor");
    assert.notEqual(enrolled.body.totp_secret, v.totpSecret);
    assert.equal(await meStatus(t, enrolled.body.token), 200);
    // the code is single-use: sent again, 401 enrollment_invalid saying it was redeemed
    const again = await enroll(t, code);
    assert.equal(again.status, 401, JSON.stringify(again.body));
    assert.equal(again.body.code, "enrollment_invalid");
  });
});

Deno.test("attack: the CLI's enable brings back no old credential either: it prints an enrollment code", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const o = await createAdmin(t, "operator");
    const stepUp = await t.app.request(
      "/api/admin/step-up",
      jsonRequest("POST", authHeaders(o), { code: otpHeaders(t, o)["x-otp-code"] }),
    );
    assert.equal(stepUp.status, 200);
    await stepUp.body?.cancel();
    await disableAdmin(t, a, o.id);
    const r = await t.services.identity.updateAdmin(systemContext("cli"), o.id, {
      status: "active",
    });
    assert.equal(r.admin.status, "active");
    assert.match(r.handover?.enrollment_code ?? "", /^enr_/);
    assert.equal(await meStatus(t, o.token), 401);
    // the old second factor is gone: the old TOTP secret opens nothing once enrolled anew
    const enrolled = await enroll(t, r.handover!.enrollment_code);
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    assert.notEqual(enrolled.body.totp_secret, o.totpSecret);
  });
});

Deno.test("attack: a pending user.reactivate is void once the account changed another way (re-enabled and disabled again)", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const x = await createAdmin(t, "operator");
    await disableAdmin(t, a, x.id);
    const asked = await patchUser(t, a, x.id, { status: "active" });
    assert.equal(asked.status, 202);
    const pending = (await asked.json()).pending_approval;
    // meanwhile the account comes back another way and goes again
    await t.services.identity.updateAdmin(systemContext("cli"), x.id, { status: "active" });
    await t.services.identity.updateAdmin(systemContext("cli"), x.id, { status: "disabled" });
    const res = await t.app.request(
      `/api/admin/approvals/${pending.id}/approve`,
      jsonRequest("POST", otpHeaders(t, b), { approval_hash: pending.approval_hash }),
    );
    assert.equal(res.status, 409);
    assert.match((await res.json()).detail, new RegExp(`${x.id} changed`));
    assert.equal((await t.services.approvals.get(pending.id)).status, "expired");
    assert.equal((await t.services.identity.getAdmin(x.id)).status, "disabled");
  });
});

Deno.test("a pending role grant is void once the target's credentials changed since it was asked for", async () => {
  await withTestApp(async (t) => {
    const a = await createAdmin(t, "admin");
    const b = await createAdmin(t, "admin");
    const v = await createAdmin(t, "viewer");
    const asked = await patchUser(t, a, v.id, { role: "operator" });
    assert.equal(asked.status, 202);
    const pending = (await asked.json()).pending_approval;
    await t.services.identity.rotateToken(systemContext("cli"), v.id);
    const res = await t.app.request(
      `/api/admin/approvals/${pending.id}/approve`,
      jsonRequest("POST", otpHeaders(t, b), { approval_hash: pending.approval_hash }),
    );
    assert.equal(res.status, 409);
    await res.body?.cancel();
    assert.equal((await t.services.approvals.get(pending.id)).status, "expired");
    assert.equal((await t.services.identity.getAdmin(v.id)).role, "viewer");
  });
});
