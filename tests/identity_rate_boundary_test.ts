/**
 * The throttles count fixed minutes (README, "Throttles"): a caller who
 * spends a budget at the end of one minute and again at the start of the
 * next gets up to twice the limit in a moment, and never more. These pin that
 * bound, and that it buys no second-factor guesses: the factor's own lock
 * (5 wrong codes in 5 minutes, one compare-and-set) holds whatever the window.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../core/clock.ts";
import { AppError } from "../core/errors.ts";
import { createApiThrottle } from "../services/identity/throttle.ts";
import { withTestApp } from "./helpers/app.ts";
import {
  auditEntries,
  authHeaders,
  createAdmin,
  currentOtp,
  jsonRequest,
} from "./helpers/identity.ts";

/** 100 ms before a minute ends */
const LATE = Date.UTC(2026, 10, 26, 9, 0, 59, 900);

Deno.test("fixed windows: an API token gets at most twice its limit across a minute boundary, never more", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(LATE);
  const throttle = createApiThrottle(kv, clock, {
    limit: { limit: 5, windowMs: 60_000 },
    timer: null,
  });
  try {
    const outcome = () => throttle.check("t".repeat(64)).then(() => "ok", (e: AppError) => e.code);
    const late = [];
    for (let i = 0; i < 7; i++) late.push(await outcome());
    clock.advance(100); // the next minute
    const early = [];
    for (let i = 0; i < 7; i++) early.push(await outcome());
    assert.deepEqual(late, [...Array(5).fill("ok"), "rate_limited", "rate_limited"]);
    assert.deepEqual(early, [...Array(5).fill("ok"), "rate_limited", "rate_limited"]);
  } finally {
    await throttle.close();
    kv.close();
  }
});

Deno.test("fixed windows: step-ups across a minute boundary pass the throttle twice over, yet only 5 wrong codes are judged before the lock", async () => {
  await withTestApp(async (t) => {
    t.clock.set(LATE);
    const admin = await createAdmin(t, "admin");
    const right = () => currentOtp(admin.totpSecret, t.clock);
    const attempt = async (code: string) => {
      const res = await t.app.request(
        "/api/admin/step-up",
        jsonRequest("POST", authHeaders(admin), { code }),
      );
      return (await res.json()).code as string;
    };
    const wrong = right() === "000000" ? "111111" : "000000";
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) outcomes.push(await attempt(wrong));
    t.clock.advance(100); // the next minute: the throttle's budget is whole again
    for (let i = 0; i < 10; i++) outcomes.push(await attempt(wrong));
    outcomes.push(await attempt(right()));
    const failed = (await auditEntries(t.kv)).filter((e) => e.action === "auth.otp_failed");
    assert.equal(failed.length, 5, "five guesses judged in all, not twenty");
    assert.deepEqual(outcomes.slice(0, 5), [...Array(4).fill("otp_invalid"), "otp_locked"]);
    assert.ok(outcomes.slice(5, 20).every((o) => o === "otp_locked"), outcomes.join(","));
    assert.equal(outcomes[20], "rate_limited", "the 11th of the new minute");
    t.clock.advance(60_000);
    assert.equal(await attempt(right()), "otp_locked", "the right code waits out the lock too");
  });
});

Deno.test("fixed windows: failed authentications from one address across a minute boundary: 30 and 30, then 429", async () => {
  await withTestApp(async (t) => {
    t.clock.set(LATE);
    const wrong = { headers: { authorization: `Bearer pot_${"x".repeat(43)}` } };
    const from = { remoteAddr: { hostname: "192.0.2.77" } };
    const burst = async () => {
      const out = await Promise.all(Array.from({ length: 31 }, async () => {
        const res = await t.app.request("/api/admin/me", wrong, from);
        await res.body?.cancel();
        return res.status;
      }));
      return out.sort();
    };
    assert.deepEqual(await burst(), [...Array(30).fill(401), 429]);
    t.clock.advance(100);
    assert.deepEqual(await burst(), [...Array(30).fill(401), 429]);
  });
});
