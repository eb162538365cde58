/**
 * A break-glass second-factor reset (`deno task admin reset-2fa`) is a
 * credential change like any other (README, "Accounts and enrollment" and
 * "Two-person rules"): a code issued before it no longer opens the account,
 * and a request naming the account as it was before it is void.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  adminContext,
  authHeaders,
  createAdmin,
  jsonRequest,
  type TestAdmin,
} from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";
import { getApproval } from "../kv/approvals.ts";

async function enroll(t: TestApp, code: string, headers: Record<string, string> = {}) {
  const res = await t.app.request("/api/admin/enroll", jsonRequest("POST", headers, { code }));
  return { status: res.status, body: await res.json() };
}

/** R asks for a reset of `target`'s second factor; A approves and holds the code. */
async function approvedReset(t: TestApp, r: TestAdmin, a: TestAdmin, target: TestAdmin) {
  const asked = await t.services.identity.requestCredentialReset(
    adminContext(r),
    target.id,
    "second_factor",
  );
  const approved = await t.services.approvals.approve(adminContext(a), asked.id, {
    approval_hash: asked.approval_hash,
  });
  const code = approved.request?.handover?.enrollment_code;
  assert.match(String(code), /^enr_/);
  return String(code);
}

Deno.test("attack: the approver's code for a second factor does not replace the one a break-glass reset issued since", async () => {
  await withTestApp(async (t) => {
    const [r, a, b] = [
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
    ];
    // A approved a reset of B's factor and kept the code instead of handing it over
    const kept = await approvedReset(t, r, a, b);
    // whoever holds the KV resets B's second factor and gives B the new one
    const fresh = await t.services.identity.resetSecondFactor(systemContext("cli"), b.id);

    const stale = await enroll(t, kept, authHeaders(b));
    assert.equal(stale.status, 401, JSON.stringify(stale.body));
    assert.match(stale.body.detail, /changed after this code was issued/);
    // B's factor is still the one the reset gave
    const factor = await t.app.request("/api/admin/step-up", {
      method: "POST",
      headers: { ...authHeaders(b), "content-type": "application/json" },
      body: JSON.stringify({ code: fresh.recovery_codes[0] }),
    });
    assert.equal(factor.status, 200, await factor.text());
  });
});

Deno.test("attack: a request about an admin asked for before a break-glass reset of its second factor is void", async () => {
  await withTestApp(async (t) => {
    const [r, a, b] = [
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
      await createAdmin(t, "admin"),
    ];
    const asked = await t.services.identity.requestCredentialReset(
      adminContext(r),
      b.id,
      "second_factor",
    );
    await t.services.identity.resetSecondFactor(systemContext("cli"), b.id);
    await assert.rejects(
      t.services.approvals.approve(adminContext(a), asked.id, {
        approval_hash: asked.approval_hash,
      }),
      /changed since the request was made/,
    );
    assert.equal((await getApproval(t.kv, asked.id)).value?.status, "expired");
  });
});
