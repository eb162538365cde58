/**
 * A request refused for its second factor (a wrong, malformed or replayed
 * `X-OTP-Code`, the lock it brings on, another admin's step-up token) is
 * audited on the admin, as before, and its entry says what was attempted: the
 * method, the operation's path as the OpenAPI document writes it, and the
 * path's ids (README "Second factor": the log records every action, denied
 * ones too). Never the code or token sent.
 */
import assert from "node:assert/strict";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import {
  auditEntries,
  authHeaders,
  createAdmin,
  currentOtp,
  jsonRequest,
  stepUpHeaders,
} from "./helpers/identity.ts";
import type { AuditEntry } from "../domain/audit_entry.ts";

const P = "/api/admin/payments";
const TXN = "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R";
const RFD = "rfd_01JD3Y8Z6QKQ2X5N7S9V4W1T0R";
const DSP = "dsp_01JD3Y8Z6QKQ2X5N7S9V4W1T0R";

async function lastOf(t: TestApp, action: string): Promise<AuditEntry> {
  const found = (await auditEntries(t.kv)).filter((e) => e.action === action);
  assert.ok(found.length > 0, `no ${action} entry`);
  return found[found.length - 1];
}

function wrongCode(right: string): string {
  return right === "000000" ? "111111" : "000000";
}

Deno.test("POST /refunds with a wrong X-OTP-Code: auth.otp_failed on the admin says the method and path attempted", async () => {
  const t = await createTestApp();
  try {
    const op = await createAdmin(t, "operator");
    const code = wrongCode(currentOtp(op.totpSecret, t.clock));
    const res = await t.app.request(
      `${P}/refunds`,
      jsonRequest("POST", { ...authHeaders(op), "x-otp-code": code }, {
        transaction_id: TXN,
        amount: 1000,
        reason: "duplicate",
        note: "n",
      }),
    );
    assert.equal(res.status, 401);
    assert.equal((await res.json()).code, "otp_invalid");
    const e = await lastOf(t, "auth.otp_failed");
    assert.deepEqual(e.target, { type: "admin", id: op.id });
    assert.equal(e.result, "denied");
    assert.deepEqual(e.after, { attempted: { method: "POST", path: `${P}/refunds` } });
    assert.ok(!JSON.stringify(e).includes(code), "the code sent is not in the entry");
  } finally {
    await t.close();
  }
});

Deno.test("a replayed code on POST /refunds/{id}/approve: auth.otp_replayed names the refund attempted", async () => {
  const t = await createTestApp();
  try {
    const op = await createAdmin(t, "operator");
    const code = currentOtp(op.totpSecret, t.clock);
    // the code spent on a step-up, then sent again with the approval
    const stepUp = await t.app.request(
      "/api/admin/step-up",
      jsonRequest("POST", authHeaders(op), { code }),
    );
    assert.equal(stepUp.status, 200);
    const res = await t.app.request(
      `${P}/refunds/${RFD}/approve`,
      jsonRequest("POST", { ...authHeaders(op), "x-otp-code": code }, {
        approval_hash: "9f2c4e1a".repeat(8),
      }),
    );
    assert.equal(res.status, 401);
    assert.equal((await res.json()).code, "otp_replayed");
    const e = await lastOf(t, "auth.otp_replayed");
    assert.deepEqual(e.target, { type: "admin", id: op.id });
    assert.deepEqual(e.after, {
      attempted: { method: "POST", path: `${P}/refunds/{id}/approve`, params: { id: RFD } },
    });
  } finally {
    await t.close();
  }
});

Deno.test("a malformed code on POST /disputes/{id}/accept, and the wrong code that locks the factor: each entry names the dispute", async () => {
  const t = await createTestApp();
  try {
    const op = await createAdmin(t, "operator");
    const send = (code: string) =>
      t.app.request(
        `${P}/disputes/${DSP}/accept`,
        jsonRequest("POST", { ...authHeaders(op), "x-otp-code": code }, { note: "lost" }),
      );
    const attempted = { method: "POST", path: `${P}/disputes/{id}/accept`, params: { id: DSP } };
    assert.equal((await send("12ab")).status, 401);
    const malformed = await lastOf(t, "auth.otp_failed");
    assert.equal(malformed.reason, "malformed code");
    assert.deepEqual(malformed.after, { attempted });
    const wrong = wrongCode(currentOtp(op.totpSecret, t.clock));
    for (let i = 0; i < 5; i++) await send(wrong);
    const locked = await lastOf(t, "auth.otp_locked");
    assert.deepEqual(locked.target, { type: "admin", id: op.id });
    assert.deepEqual((locked.after as { attempted: unknown }).attempted, attempted);
    assert.equal(typeof (locked.after as { locked_until: unknown }).locked_until, "string");
    assert.deepEqual((await lastOf(t, "auth.otp_failed")).after, { attempted });
  } finally {
    await t.close();
  }
});

Deno.test("another admin's step-up token on POST /refunds/{id}/approve: auth.step_up_refused names the action", async () => {
  const t = await createTestApp();
  try {
    const op = await createAdmin(t, "operator");
    const other = await createAdmin(t, "operator");
    const theirs = await stepUpHeaders(t, other);
    const res = await t.app.request(
      `${P}/refunds/${RFD}/approve`,
      jsonRequest("POST", { ...authHeaders(op), "x-step-up": theirs["x-step-up"] }, {
        approval_hash: "9f2c4e1a".repeat(8),
      }),
    );
    assert.equal(res.status, 401);
    const e = await lastOf(t, "auth.step_up_refused");
    assert.deepEqual(e.target, { type: "admin", id: op.id });
    assert.deepEqual(e.after, {
      attempted: { method: "POST", path: `${P}/refunds/{id}/approve`, params: { id: RFD } },
    });
    assert.ok(!JSON.stringify(e).includes(theirs["x-step-up"]), "the token is not in the entry");
  } finally {
    await t.close();
  }
});

Deno.test("POST /api/admin/step-up with a wrong code: no action attempted beyond the step-up itself", async () => {
  const t = await createTestApp();
  try {
    const op = await createAdmin(t, "operator");
    const code = wrongCode(currentOtp(op.totpSecret, t.clock));
    const res = await t.app.request(
      "/api/admin/step-up",
      jsonRequest("POST", authHeaders(op), { code }),
    );
    assert.equal(res.status, 401);
    const e = await lastOf(t, "auth.otp_failed");
    assert.equal(e.after, null);
  } finally {
    await t.close();
  }
});

Deno.test("a recovery code spent on POST /disputes/{id}/accept: auth.recovery_code_used names the action it was spent on", async () => {
  const t = await createTestApp();
  try {
    const op = await createAdmin(t, "operator");
    const code = op.recoveryCodes[0];
    await t.app.request(
      `${P}/disputes/${DSP}/accept`,
      jsonRequest("POST", { ...authHeaders(op), "x-otp-code": code }, { note: "lost" }),
    );
    const e = await lastOf(t, "auth.recovery_code_used");
    assert.deepEqual(e.after, {
      remaining: op.recoveryCodes.length - 1,
      attempted: { method: "POST", path: `${P}/disputes/{id}/accept`, params: { id: DSP } },
    });
    assert.ok(!JSON.stringify(e).includes(code), "the code is not in the entry");
  } finally {
    await t.close();
  }
});
