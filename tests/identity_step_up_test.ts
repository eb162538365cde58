import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import type { TestAdmin } from "./helpers/identity.ts";
import { auditEntries, authHeaders, createAdmin, currentOtp } from "./helpers/identity.ts";
import { jsonRequest, otpHeaders, stepUpHeaders } from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";

/** A 2FA operation that succeeds with 201 each time (a fresh email each call). */
async function createUser(t: TestApp, headers: Record<string, string>) {
  return await t.app.request(
    "/api/admin/users",
    jsonRequest("POST", headers, { email: `u-${crypto.randomUUID()}@example.com`, role: "viewer" }),
  );
}

async function stepUp(t: TestApp, admin: TestAdmin, code: string) {
  return await t.app.request(
    "/api/admin/step-up",
    jsonRequest("POST", authHeaders(admin), { code }),
  );
}

Deno.test("POST /api/admin/step-up returns a token valid STEP_UP_TTL_S for a run of 2FA calls", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const res = await stepUp(t, admin, currentOtp(admin.totpSecret, t.clock));
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.match(body.step_up_token, /^psu_[A-Za-z0-9_-]{43}$/);
    assert.equal(body.expires_at, new Date(t.clock.now() + 120_000).toISOString());
    const headers = { ...authHeaders(admin), "x-step-up": body.step_up_token };
    for (let i = 0; i < 3; i++) assert.equal((await createUser(t, headers)).status, 201);
    t.clock.advance(119_000);
    assert.equal((await createUser(t, headers)).status, 201, "still valid just before expiry");
    t.clock.advance(1_000);
    const expired = await createUser(t, headers);
    assert.equal(expired.status, 401);
    assert.equal((await expired.json()).code, "step_up_expired");
    assert.ok((await auditEntries(t.kv)).some((e) => e.action === "auth.step_up"));
  }, { env: { STEP_UP_TTL_S: "120" } });
});

Deno.test("the code traded for a step-up token cannot be used again", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const code = currentOtp(admin.totpSecret, t.clock);
    assert.equal((await stepUp(t, admin, code)).status, 200);
    const again = await stepUp(t, admin, code);
    assert.equal(again.status, 401);
    assert.equal((await again.json()).code, "otp_replayed");
    const asOtp = await createUser(t, { ...authHeaders(admin), "x-otp-code": code });
    assert.equal((await asOtp.json()).code, "otp_replayed");
  });
});

Deno.test("a step-up token works only for its admin and bearer token", async () => {
  await withTestApp(async (t) => {
    const alice = await createAdmin(t, "admin");
    const bob = await createAdmin(t, "admin");
    const aliceStep = (await stepUpHeaders(t, alice))["x-step-up"];

    const asBob = await createUser(t, { ...authHeaders(bob), "x-step-up": aliceStep });
    assert.equal(asBob.status, 401);
    assert.equal((await asBob.json()).code, "step_up_expired");
    const refused = (await auditEntries(t.kv)).filter((e) => e.action === "auth.step_up_refused");
    assert.equal(refused.length, 1);
    assert.equal(refused[0].actor.id, bob.id);

    const { token } = await t.services.identity.rotateToken(systemContext("cli"), alice.id);
    const newBearer = await createUser(t, {
      authorization: `Bearer ${token}`,
      "x-step-up": aliceStep,
    });
    assert.equal(newBearer.status, 401);
    assert.equal((await newBearer.json()).code, "step_up_expired");
  });
});

Deno.test("resetting the second factor revokes outstanding step-up tokens", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const headers = await stepUpHeaders(t, admin);
    assert.equal((await createUser(t, headers)).status, 201);
    await t.services.identity.resetSecondFactor(systemContext("cli"), admin.id);
    const res = await createUser(t, headers);
    assert.equal((await res.json()).code, "step_up_expired");
  });
});

Deno.test("a stale X-Step-Up with a fresh X-OTP-Code passes on the code; a malformed one is refused", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const stale = (await stepUpHeaders(t, admin))["x-step-up"];
    t.clock.advance(301_000);
    const both = await createUser(t, { ...otpHeaders(t, admin), "x-step-up": stale });
    assert.equal(both.status, 201);
    const malformed = await createUser(t, { ...authHeaders(admin), "x-step-up": "nope" });
    assert.equal(malformed.status, 401);
    const body = await malformed.json();
    assert.equal(body.code, "step_up_expired");
    assert.equal(body.errors[0].path, "header.x-step-up");
  });
});

Deno.test("step-up is throttled harder than the API: 10 attempts a minute per admin, whatever the token", async () => {
  await withTestApp(async (t) => {
    t.clock.set(Date.UTC(2026, 10, 26, 9, 0, 0));
    const admin = await createAdmin(t, "admin");
    for (let i = 0; i < 10; i++) {
      const res = await stepUp(t, admin, "bad");
      assert.equal(res.status, 401, `attempt ${i + 1}`);
      assert.equal((await res.json()).code, "otp_invalid");
    }
    const limited = await stepUp(t, admin, currentOtp(admin.totpSecret, t.clock));
    assert.equal(limited.status, 429);
    const refused = await limited.json();
    assert.equal(refused.code, "rate_limited");
    // the message does not send them to a new token, which would not help
    assert.match(refused.detail, /step-up attempts in 60 s for your account/);
    assert.equal(limited.headers.get("retry-after"), "60");
    assert.equal(
      (await t.app.request("/api/admin/me", { headers: authHeaders(admin) })).status,
      200,
      "the API budget is separate",
    );
    t.clock.advance(60_000);
    assert.equal((await stepUp(t, admin, currentOtp(admin.totpSecret, t.clock))).status, 200);
  });
});
