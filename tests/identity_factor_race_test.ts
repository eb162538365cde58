/**
 * Attacks on the second factor under concurrency: the lock check, the
 * failure count and the acceptance of a code are one compare-and-set, so a
 * parallel burst gets no more than 5 tries per lock; the step-up limit is
 * counted atomically; a code is spent only by a request that passed
 * validation; a wrong code says how many tries are left.
 */
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import {
  auditEntries,
  authHeaders,
  createAdmin,
  currentOtp,
  jsonRequest,
} from "./helpers/identity.ts";
import { principalContext } from "../services/identity/service.ts";
import { AppError } from "../core/errors.ts";

const META = { request_id: "req_race", ip: "10.0.0.1", user_agent: null };

Deno.test("attack: 59 wrong codes and the right one at once: at most 5 judged before the lock", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const principal = await t.services.identity.authenticate(`Bearer ${admin.token}`, META);
    const right = currentOtp(admin.totpSecret, t.clock);
    const wrong = right === "000000" ? "111111" : "000000";
    const codes = [...Array(59).fill(wrong), right];
    // the right one last in the burst, as an attacker racing the lock would send it
    const results = await Promise.allSettled(
      codes.map((otp) => t.services.identity.verifySecondFactor(principal, { otp }, META)),
    );
    const outcomes = results.map((r) =>
      r.status === "fulfilled" ? "ok" : (r.reason as AppError).code
    );
    const judged = outcomes.filter((o) => o === "ok" || o === "otp_invalid").length;
    const failures = (await auditEntries(t.kv)).filter((e) => e.action === "auth.otp_failed");
    if (outcomes[59] !== "ok") {
      // the lock came first: no more than 5 guesses were judged, and the right code was refused
      assert.ok(failures.length <= 5, `${failures.length} wrong codes were judged`);
      assert.ok(judged <= 6, `${judged} codes were judged`);
      assert.equal(outcomes[59], "otp_locked");
    } else {
      // The right code was judged before any lock (fewer than 5 failures before it) and,
      // being right, reset the count: at most 4 wrong codes before it and 5 after it.
      assert.ok(failures.length <= 9, `${failures.length} wrong codes were judged`);
    }
    // locked now (5 failures in a row, after the last reset): even the next step's right code is refused
    const lockedAfter = outcomes[59] !== "ok" || failures.length - 4 >= 5;
    t.clock.advance(30_000);
    const after = await t.services.identity.verifySecondFactor(principal, {
      otp: currentOtp(admin.totpSecret, t.clock),
    }, META).then(() => "ok", (e) => e.code);
    if (outcomes[59] !== "ok") assert.equal(after, failures.length === 5 ? "otp_locked" : "ok");
    else if (lockedAfter) assert.equal(after, "otp_locked");
  });
});

Deno.test("a wrong code says how many tries are left before the lock", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const principal = await t.services.identity.authenticate(`Bearer ${admin.token}`, META);
    const right = currentOtp(admin.totpSecret, t.clock);
    const wrong = right === "000000" ? "111111" : "000000";
    const e = await t.services.identity.verifySecondFactor(principal, { otp: wrong }, META)
      .then(() => null, (e) => e);
    assert.equal(e?.code, "otp_invalid");
    assert.match(e.message, /4 tries left/);
    assert.equal(e.extra?.tries_left, 4);
    void principalContext;
  });
});

Deno.test("attack: 40 concurrent step-ups against a 10/min limit: 10 get past the limiter", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const res = await Promise.all(Array.from({ length: 40 }, () =>
      t.app.request(
        "/api/admin/step-up",
        jsonRequest("POST", authHeaders(admin), { code: "12345" }),
      )));
    const statuses = res.map((r) => r.status);
    await Promise.all(res.map((r) => r.body?.cancel()));
    assert.equal(statuses.filter((s) => s === 429).length, 30, statuses.join(","));
  });
});

Deno.test("a code is spent only by a request that passed body validation", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "operator");
    const otp = currentOtp(admin.totpSecret, t.clock);
    const typo = await t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", { ...authHeaders(admin), "x-otp-code": otp }, {
        transaction_id: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
        reason: "not-a-reason",
        note: "n",
      }),
    );
    assert.equal(typo.status, 422);
    await typo.body?.cancel();
    const fixed = await t.app.request(
      "/api/admin/payments/refunds",
      jsonRequest("POST", { ...authHeaders(admin), "x-otp-code": otp }, {
        transaction_id: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
        reason: "requested_by_customer",
        note: "n",
      }),
    );
    const body = await fixed.json();
    assert.equal(fixed.status, 404, `the same code still works: ${body.code}`);
  });
});
