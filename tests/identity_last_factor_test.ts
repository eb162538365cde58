/**
 * A credential reset never leaves an account with neither factor (README, "Accounts and
 * enrollment"): a rotation's code is redeemed with the second factor and a second-factor
 * reset's with the token, so a rotation while the account has no second factor (a reset's code
 * still waiting, say), or a reset while its token is revoked (a rotation's code waiting), is
 * refused (409, `rule: last_factor`) naming the way out from where the account stands; an
 * approval finding it so is refused too. Each refusal in that flow names a way out that works.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import {
  auditEntries,
  authHeaders,
  createAdmins,
  currentOtp,
  otpHeaders,
  sendJson,
  type TestAdmin,
} from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";
import { BREAK_GLASS_ACTOR } from "../domain/system_actors.ts";
import { keys } from "../kv/keys.ts";

const ask = (t: TestApp, by: TestAdmin, target: TestAdmin, what: "rotate-token" | "reset-2fa") =>
  sendJson(t, "POST", `/api/admin/users/${target.id}/${what}`, otpHeaders(t, by));

/** `by` approves `request`: the answer's enrollment code. */
async function approve(t: TestApp, by: TestAdmin, request: { id: string; approval_hash: string }) {
  const ok = await sendJson(
    t,
    "POST",
    `/api/admin/approvals/${request.id}/approve`,
    otpHeaders(t, by),
    {
      approval_hash: request.approval_hash,
    },
  );
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.approval.status, "executed", JSON.stringify(ok.body));
  return ok.body.approval.handover.enrollment_code as string;
}

/** `what` asked for `target` by `by` and approved by `approver`: its code. */
async function approved(
  t: TestApp,
  by: TestAdmin,
  approver: TestAdmin,
  target: TestAdmin,
  what: "rotate-token" | "reset-2fa",
) {
  const asked = await ask(t, by, target, what);
  assert.equal(asked.status, 202, JSON.stringify(asked.body));
  return await approve(t, approver, asked.body);
}

const redeem = (t: TestApp, code: string, headers: Record<string, string> = {}) =>
  sendJson(t, "POST", "/api/admin/enroll", headers, { code });

function assertLastFactor(refused: { status: number; body: Record<string, unknown> }) {
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.equal(refused.body.code, "conflict");
  assert.equal(refused.body.rule, "last_factor");
  return String(refused.body.detail);
}

Deno.test("a second-factor reset approved, its code waiting: a token rotation is refused (409) until that code is redeemed, saying so; then both work", async () => {
  await withTestApp(async (t) => {
    const [a, b, c, d] = await createAdmins(t, 4);
    const code1 = await approved(t, a, c, b, "reset-2fa");
    // B has a token and no second factor: a rotation now would leave B with neither
    const refused = await ask(t, a, b, "rotate-token");
    const detail = assertLastFactor(refused);
    assert.match(detail, /no second factor/, detail);
    assert.match(detail, /neither/, detail);
    assert.ok(detail.includes(c.id), `names who holds the reset's code: ${detail}`);
    assert.match(detail, /POST \/api\/admin\/enroll/, detail);
    assert.match(detail, /current token/, detail);
    const denied = (await auditEntries(t.kv)).filter((e) =>
      e.action === "token.rotate" && e.result === "denied" && e.target?.id === b.id
    );
    assert.equal(denied.length, 1, "the refusal is audited denied on the account");
    // B's token still works and redeems the reset's code
    const enrolled = await redeem(t, code1, authHeaders(b));
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    const fresh = { ...b, totpSecret: enrolled.body.totp_secret, lastOtpStep: null };
    // now the rotation is asked for, approved, and redeemed with the new second factor
    const code2 = await approved(t, a, d, fresh, "rotate-token");
    const rotated = await redeem(t, code2, { "x-otp-code": currentOtp(fresh.totpSecret, t.clock) });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const me = await t.app.request("/api/admin/me", {
      headers: { authorization: `Bearer ${rotated.body.token}` },
    });
    assert.equal(me.status, 200);
    await me.body?.cancel();
  });
});

Deno.test("a token rotation approved, its code waiting: a second-factor reset is refused (409) until that code is redeemed, saying so", async () => {
  await withTestApp(async (t) => {
    const [a, b, c, d] = await createAdmins(t, 4);
    const code = await approved(t, a, c, b, "rotate-token");
    const detail = assertLastFactor(await ask(t, a, b, "reset-2fa"));
    assert.match(detail, /token was revoked/, detail);
    assert.ok(detail.includes(c.id), `names who holds the rotation's code: ${detail}`);
    assert.match(detail, /X-OTP-Code/, detail);
    const denied = (await auditEntries(t.kv)).filter((e) =>
      e.action === "totp.reset" && e.result === "denied" && e.target?.id === b.id
    );
    assert.equal(denied.length, 1);
    const redeemed = await redeem(t, code, { "x-otp-code": currentOtp(b.totpSecret, t.clock) });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    const fresh = { ...b, token: redeemed.body.token };
    const reset = await ask(t, a, fresh, "reset-2fa");
    assert.equal(reset.status, 202, JSON.stringify(reset.body));
    await approve(t, d, reset.body);
  });
});

Deno.test("a reset's or a rotation's code expired unredeemed: the other request is refused naming the request that gets the account a factor back", async () => {
  await withTestApp(async (t) => {
    const [a, b, c, e] = await createAdmins(t, 4);
    await approved(t, a, c, b, "reset-2fa");
    await approved(t, a, c, e, "rotate-token");
    t.clock.advance(24 * 3600_000 + 1_000); // both codes' 24 h are over
    const noFactor = assertLastFactor(await ask(t, a, b, "rotate-token"));
    assert.ok(noFactor.includes(`POST /api/admin/users/${b.id}/reset-2fa`), noFactor);
    assert.match(noFactor, /first/, noFactor);
    const noToken = assertLastFactor(await ask(t, a, e, "reset-2fa"));
    assert.ok(noToken.includes(`POST /api/admin/users/${e.id}/rotate-token`), noToken);
    // and those ways out work: a rotation of e's token is asked for (and b's factor reset)
    assert.equal((await ask(t, a, e, "rotate-token")).status, 202);
    assert.equal((await ask(t, a, b, "reset-2fa")).status, 202);
  });
});

Deno.test("an account asked for and approved, its code not yet redeemed, has neither factor: a rotation or reset is refused naming the code that gives both, then the break-glass way once none waits", async () => {
  await withTestApp(async (t) => {
    const [a, c, d] = await createAdmins(t, 3);
    const asked = await sendJson(t, "POST", "/api/admin/users", otpHeaders(t, a), {
      email: "new-admin@example.com",
      role: "admin",
    });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    await approve(t, c, asked.body.approval);
    const id = asked.body.approval.payload.admin_id as string;
    const target = { id } as TestAdmin;
    for (const what of ["rotate-token", "reset-2fa"] as const) {
      const detail = assertLastFactor(await ask(t, a, target, what));
      assert.match(detail, /neither/, detail);
      assert.ok(detail.includes(c.id), `names who holds the account's code: ${detail}`);
    }
    t.clock.advance(24 * 3600_000 + 1_000);
    for (const what of ["rotate-token", "reset-2fa"] as const) {
      const detail = assertLastFactor(await ask(t, a, target, what));
      assert.match(detail, /deno task admin rotate-token --id/, detail);
      assert.match(detail, /re-enabl/, detail);
    }
    void d;
  });
});

Deno.test("a rotation asked for while the account had its second factor, approved once it has none: refused (409), the request expired, nothing revoked", async () => {
  await withTestApp(async (t) => {
    const [a, b, c] = await createAdmins(t, 3);
    const asked = await ask(t, a, b, "rotate-token");
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    // the factor gone without the account's record moving (as a store written before this rule
    // could hold it): only the approval's own check stands between B and a dead end
    await t.kv.delete(keys.adminSecondFactor(b.id));
    const refused = await sendJson(
      t,
      "POST",
      `/api/admin/approvals/${asked.body.id}/approve`,
      otpHeaders(t, c),
      { approval_hash: asked.body.approval_hash },
    );
    const detail = assertLastFactor(refused);
    assert.match(detail, /no second factor/, detail);
    assert.equal((await t.services.approvals.get(asked.body.id)).status, "expired");
    const me = await t.app.request("/api/admin/me", { headers: authHeaders(b) });
    assert.equal(me.status, 200, "B's token was not revoked");
    await me.body?.cancel();
  });
});

Deno.test("a rotation's code with the second factor gone: the refusal does not send the person to a token they no longer have", async () => {
  await withTestApp(async (t) => {
    const [a, b, c] = await createAdmins(t, 3);
    const code = await approved(t, a, c, b, "rotate-token");
    await t.kv.delete(keys.adminSecondFactor(b.id));
    for (const headers of [{ "x-otp-code": "123456" }, {}] as Record<string, string>[]) {
      const refused = await redeem(t, code, headers);
      assert.equal(refused.status, 401, JSON.stringify(refused.body));
      const detail = String(refused.body.detail);
      assert.doesNotMatch(detail, /current token/, detail);
      assert.doesNotMatch(detail, /send X-OTP-Code/, detail);
      assert.match(detail, /deno task admin rotate-token --id/, detail);
      assert.match(detail, /re-enabl/, detail);
    }
  });
});

Deno.test("a reset's code that the break-glass CLI overtook: the refusal says both factors work, not to ask an approver for a code", async () => {
  await withTestApp(async (t) => {
    const [a, b, c] = await createAdmins(t, 3);
    const code = await approved(t, a, c, b, "reset-2fa");
    await t.services.identity.resetSecondFactor(systemContext(BREAK_GLASS_ACTOR), b.id);
    const refused = await redeem(t, code, authHeaders(b));
    assert.equal(refused.status, 401, JSON.stringify(refused.body));
    assert.equal(refused.body.code, "enrollment_invalid");
    const detail = String(refused.body.detail);
    assert.match(detail, /changed after this code was issued/, detail);
    assert.match(detail, /token and second factor both work/, detail);
    assert.doesNotMatch(detail, /ask whoever approved/, detail);
  });
});
