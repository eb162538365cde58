import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import type { TestAdmin } from "./helpers/identity.ts";
import { auditEntries, authHeaders, createAdmin, currentOtp } from "./helpers/identity.ts";
import { jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { AppError } from "../core/errors.ts";
import { createServices } from "../services/mod.ts";
import type { RequestMeta } from "../domain/actor.ts";

const meta: RequestMeta = { request_id: "req_test", ip: null, user_agent: null };

async function principalOf(t: TestApp, admin: TestAdmin) {
  return await t.services.identity.authenticate(`Bearer ${admin.token}`, meta);
}

async function verifyOtp(t: TestApp, admin: TestAdmin, otp: string) {
  await t.services.identity.verifySecondFactor(await principalOf(t, admin), { otp }, meta);
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AppError, String(e));
    return e;
  }
  assert.fail("expected a refusal");
}

Deno.test("a 2FA route without X-OTP-Code or X-Step-Up is 401 otp_required", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const res = await t.app.request(
      "/api/admin/users",
      jsonRequest("POST", authHeaders(admin), { email: "x@example.com", role: "viewer" }),
    );
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.code, "otp_required");
    assert.match(body.detail, /X-OTP-Code/);
  });
});

Deno.test("a malformed code is otp_invalid naming header.x-otp-code", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    for (const code of ["12345", "1234567", "12a456", "abcd-efgh-ijkl"]) {
      const res = await t.app.request(
        "/api/admin/users",
        jsonRequest("POST", { ...authHeaders(admin), "x-otp-code": code }, {
          email: "x@example.com",
          role: "viewer",
        }),
      );
      assert.equal(res.status, 401, code);
      const body = await res.json();
      assert.equal(body.code, "otp_invalid");
      assert.equal(body.errors[0].path, "header.x-otp-code");
      assert.match(body.detail, /6-digit/);
    }
    const me = await (await t.app.request("/api/admin/me", { headers: authHeaders(admin) })).json();
    assert.equal(me.second_factor.locked_until, null, "malformed codes are not guesses");
  });
});

Deno.test("a valid code passes the guard once; the same code again is otp_replayed", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const headers = otpHeaders(t, admin);
    const first = await t.app.request(
      "/api/admin/users",
      jsonRequest("POST", headers, { email: "new@example.com", role: "viewer" }),
    );
    assert.equal(first.status, 201);
    const again = await t.app.request(
      "/api/admin/users",
      jsonRequest("POST", headers, { email: "other@example.com", role: "viewer" }),
    );
    assert.equal(again.status, 401);
    assert.equal((await again.json()).code, "otp_replayed");
    const created = (await auditEntries(t.kv)).find((e) =>
      e.action === "user.create" && e.actor.id === admin.id
    );
    assert.equal(created?.second_factor, true);
    assert.equal(
      (await auditEntries(t.kv)).filter((e) => e.action === "auth.otp_replayed").length,
      1,
    );
  });
});

Deno.test("codes one step either side are accepted; an older step after a newer one is a replay", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const previous = currentOtp(admin.totpSecret, t.clock, -1);
    const next = currentOtp(admin.totpSecret, t.clock, 1);
    const current = currentOtp(admin.totpSecret, t.clock, 0);
    const tooOld = currentOtp(admin.totpSecret, t.clock, -2);
    assert.equal((await refusal(verifyOtp(t, admin, tooOld))).code, "otp_invalid");
    await verifyOtp(t, admin, previous);
    await verifyOtp(t, admin, next);
    assert.equal((await refusal(verifyOtp(t, admin, current))).code, "otp_replayed");
  });
});

Deno.test("concurrent requests with the same code: exactly one passes, across two service instances", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const other = createServices(t.deps); // a second isolate on the same KV
    const code = currentOtp(admin.totpSecret, t.clock);
    const p1 = await principalOf(t, admin);
    const results = await Promise.allSettled(
      Array.from(
        { length: 8 },
        (_, i) => (i % 2 ? other : t.services).identity.verifySecondFactor(p1, { otp: code }, meta),
      ),
    );
    const passed = results.filter((r) => r.status === "fulfilled");
    assert.equal(passed.length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.equal((r.reason as AppError).code, "otp_replayed");
    }
  });
});

Deno.test("5 wrong codes within 5 minutes lock the factor for 15 minutes, audited once", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const good = () => currentOtp(admin.totpSecret, t.clock);
    const wrong = () => String((Number(good()) + 500_000) % 1_000_000).padStart(6, "0");
    for (let i = 1; i <= 4; i++) {
      assert.equal((await refusal(verifyOtp(t, admin, wrong()))).code, "otp_invalid", `try ${i}`);
      t.clock.advance(10_000);
    }
    const locking = await refusal(verifyOtp(t, admin, wrong()));
    assert.equal(locking.code, "otp_locked");
    assert.equal(locking.retryAfter, 900);
    t.clock.advance(60_000);
    const stillLocked = await refusal(verifyOtp(t, admin, good()));
    assert.equal(stillLocked.code, "otp_locked", "even a right code waits for the lock");
    assert.equal(stillLocked.retryAfter, 840);
    const entries = await auditEntries(t.kv);
    assert.equal(entries.filter((e) => e.action === "auth.otp_failed").length, 5);
    const locks = entries.filter((e) => e.action === "auth.otp_locked");
    assert.equal(locks.length, 1);
    assert.equal(locks[0].result, "denied");

    const res = await t.app.request(
      "/api/admin/users",
      jsonRequest("POST", otpHeaders(t, admin), {
        email: "n@example.com",
        role: "viewer",
      }),
    );
    assert.equal(res.status, 429);
    assert.equal((await res.json()).code, "otp_locked");
    assert.ok(Number(res.headers.get("retry-after")) > 0);

    t.clock.advance(14 * 60_000);
    await verifyOtp(t, admin, good());
  });
});

Deno.test("failures older than 5 minutes do not count toward the lock", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const wrong = () =>
      String((Number(currentOtp(admin.totpSecret, t.clock)) + 1) % 1_000_000).padStart(6, "0");
    for (let i = 0; i < 4; i++) await refusal(verifyOtp(t, admin, wrong()));
    t.clock.advance(5 * 60_000 + 1_000);
    assert.equal((await refusal(verifyOtp(t, admin, wrong()))).code, "otp_invalid");
    await verifyOtp(t, admin, currentOtp(admin.totpSecret, t.clock));
  });
});

Deno.test("recovery codes work in X-OTP-Code once each, in any case; a used one is 'already used' and does not count toward the lock; wrong ones do", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    assert.equal(admin.recoveryCodes.length, 8);
    assert.equal(new Set(admin.recoveryCodes).size, 8);
    for (const c of admin.recoveryCodes) assert.match(c, /^[a-z2-9]{4}-[a-z2-9]{4}$/);
    const [first, second] = admin.recoveryCodes;
    await verifyOtp(t, admin, first);
    // the person who lost their device and retries a used code is not locked out for it
    const again = await Promise.all(
      Array.from({ length: 8 }, () => refusal(verifyOtp(t, admin, first))),
    );
    for (const r of again) {
      assert.equal(r.code, "otp_replayed");
      assert.match(r.message, /recovery code was already used/);
    }
    assert.equal((await refusal(verifyOtp(t, admin, "zzzz-zzzz"))).code, "otp_invalid");
    await verifyOtp(t, admin, second.toUpperCase());
    const me = await (await t.app.request("/api/admin/me", { headers: authHeaders(admin) })).json();
    assert.equal(me.second_factor.recovery_codes_remaining, 6);
    const entries = await auditEntries(t.kv);
    assert.equal(entries.filter((e) => e.action === "auth.recovery_code_used").length, 2);
    assert.equal(entries.filter((e) => e.action === "auth.otp_failed").length, 1);
    assert.equal(entries.filter((e) => e.action === "auth.otp_replayed").length, 8);
  });
});

Deno.test("resetting the second factor replaces the secret and the recovery codes", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const reset = await t.services.identity.resetSecondFactor(
      { actor: { type: "system", id: "cli", role: null }, request: null, second_factor: false },
      admin.id,
    );
    assert.notEqual(reset.totp_secret, admin.totpSecret);
    assert.equal(
      (await refusal(verifyOtp(t, admin, currentOtp(admin.totpSecret, t.clock)))).code,
      "otp_invalid",
    );
    assert.equal((await refusal(verifyOtp(t, admin, admin.recoveryCodes[0]))).code, "otp_invalid");
    await verifyOtp(t, admin, currentOtp(reset.totp_secret, t.clock));
    await verifyOtp(t, admin, reset.recovery_codes[0]);
    assert.ok((await auditEntries(t.kv)).some((e) => e.action === "totp.reset"));
  });
});
