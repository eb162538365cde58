/**
 * The TOTP acceptance window at step boundaries (README, "Second factor"):
 * a code of the server's 30 s step or one step either side (a phone's clock
 * off by up to a step) is accepted once; a code of the step accepted last or
 * an earlier one is a replay, and so is a code whose six digits are also those
 * of a step already spent (the same code twice in a row, about one step in a
 * million), for as long as that spent step is in the window. The clock is the
 * injected manual clock; the factor's secret is one known to repeat a code.
 */
import assert from "node:assert/strict";
import { type TestApp, withTestApp } from "./helpers/app.ts";
import { auditEntries, authHeaders, createAdmin, jsonRequest } from "./helpers/identity.ts";
import type { TestAdmin } from "./helpers/identity.ts";
import { ManualClock } from "../core/clock.ts";
import { AppError } from "../core/errors.ts";
import type { RequestMeta } from "../domain/actor.ts";
import { createServices } from "../services/mod.ts";
import { IdentityKeys } from "../services/identity/crypto.ts";
import { TOTP_PERIOD_S, totpCode } from "../services/identity/totp.ts";
import { getSecondFactor } from "../kv/identity_factors.ts";

/** A secret whose code for step REPEAT_STEP is also its code for the step after. */
const REPEATING_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const REPEAT_STEP = 59_141_676;
const REPEATED_CODE = "212317";
const STEP_MS = TOTP_PERIOD_S * 1000;

const meta: RequestMeta = { request_id: "req_test", ip: null, user_agent: null };

/** The first millisecond of time-step `step`. */
const stepStart = (step: number) => step * STEP_MS;

/** Gives `admin` the repeating secret (as an enrolment with it would have). */
async function useRepeatingSecret(t: TestApp, admin: TestAdmin): Promise<void> {
  const config = t.deps.config;
  const keys = new IdentityKeys(config.auditSigningKey!, config.auditSigningKeys ?? []);
  const entry = await getSecondFactor(t.kv, admin.id);
  const sealed = await keys.seal(REPEATING_SECRET, admin.id);
  await t.kv.set(entry.key, { ...entry.value!, sealed_totp_secret: sealed });
  admin.totpSecret = REPEATING_SECRET;
}

/** What verifying `code` for `admin` answers: "ok" or the refusal's code. */
async function verify(t: TestApp, admin: TestAdmin, code: string): Promise<string> {
  const principal = await t.services.identity.authenticate(`Bearer ${admin.token}`, meta);
  try {
    await t.services.identity.verifySecondFactor(principal, { otp: code }, meta);
    return "ok";
  } catch (e) {
    assert.ok(e instanceof AppError, String(e));
    return e.code;
  }
}

const codeAt = (admin: TestAdmin, step: number) => totpCode(admin.totpSecret, stepStart(step));

Deno.test("the repeating secret repeats (the fixture this file relies on)", () => {
  assert.equal(totpCode(REPEATING_SECRET, stepStart(REPEAT_STEP)), REPEATED_CODE);
  assert.equal(totpCode(REPEATING_SECRET, stepStart(REPEAT_STEP + 1)), REPEATED_CODE);
  assert.notEqual(totpCode(REPEATING_SECRET, stepStart(REPEAT_STEP - 1)), REPEATED_CODE);
  assert.notEqual(totpCode(REPEATING_SECRET, stepStart(REPEAT_STEP + 2)), REPEATED_CODE);
});

Deno.test("TOTP window: the next step's code (a phone ahead) at the last millisecond before a boundary, the previous step's at the first after one", async () => {
  await withTestApp(async (t) => {
    const s = 59_200_000;
    const ahead = await createAdmin(t, "admin");
    const behind = await createAdmin(t, "admin");
    t.clock.set(stepStart(s + 1) - 1);
    assert.equal(await verify(t, ahead, codeAt(ahead, s + 1)), "ok", "next step");
    assert.equal(await verify(t, behind, codeAt(behind, s + 2)), "otp_invalid", "two steps on");
    t.clock.set(stepStart(s + 1));
    assert.equal(await verify(t, behind, codeAt(behind, s - 1)), "otp_invalid", "two back");
    assert.equal(await verify(t, behind, codeAt(behind, s)), "ok", "previous step");
    // accepting the next step's code spent the current one too: one code per step, in order
    assert.equal(await verify(t, ahead, codeAt(ahead, s + 1)), "otp_replayed");
    assert.equal(await verify(t, ahead, codeAt(ahead, s)), "otp_replayed");
    assert.equal(await verify(t, ahead, codeAt(ahead, s + 2)), "ok");
  });
});

Deno.test("TOTP window: a code used once is refused across the step boundary while it is in the window", async () => {
  await withTestApp(async (t) => {
    const s = 59_200_000;
    const admin = await createAdmin(t, "admin");
    t.clock.set(stepStart(s + 1) - 1);
    const code = codeAt(admin, s);
    assert.equal(await verify(t, admin, code), "ok");
    t.clock.set(stepStart(s + 1));
    assert.equal(await verify(t, admin, code), "otp_replayed", "one step on, still in the window");
    t.clock.set(stepStart(s + 2) - 1);
    assert.equal(
      await verify(t, admin, code),
      "otp_replayed",
      "the last millisecond of its window",
    );
    const replays = (await auditEntries(t.kv)).filter((e) => e.action === "auth.otp_replayed");
    assert.equal(replays.length, 2);
  });
});

Deno.test("TOTP window: the same six digits in two adjacent steps, used in the first, are refused in the second", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    await useRepeatingSecret(t, admin);
    t.clock.set(stepStart(REPEAT_STEP) + 10_000);
    assert.equal(await verify(t, admin, REPEATED_CODE), "ok");
    t.clock.set(stepStart(REPEAT_STEP + 1) + 10_000);
    assert.equal(await verify(t, admin, REPEATED_CODE), "otp_replayed");
    t.clock.set(stepStart(REPEAT_STEP + 2) + 10_000);
    assert.equal(
      await verify(t, admin, REPEATED_CODE),
      "otp_replayed",
      "its last step in the window",
    );
    assert.equal(
      await verify(t, admin, codeAt(admin, REPEAT_STEP + 2)),
      "ok",
      "the next code works",
    );
  }, { clock: new ManualClock(stepStart(REPEAT_STEP)) });
});

Deno.test("TOTP window: the repeated code taken a step early (a phone ahead) is refused in both steps it belongs to", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    await useRepeatingSecret(t, admin);
    t.clock.set(stepStart(REPEAT_STEP - 1) + 20_000);
    assert.equal(await verify(t, admin, REPEATED_CODE), "ok");
    t.clock.set(stepStart(REPEAT_STEP) + 1);
    assert.equal(await verify(t, admin, REPEATED_CODE), "otp_replayed");
    t.clock.set(stepStart(REPEAT_STEP + 1) + 1);
    assert.equal(await verify(t, admin, REPEATED_CODE), "otp_replayed", "the step it repeats in");
  }, { clock: new ManualClock(stepStart(REPEAT_STEP)) });
});

Deno.test("TOTP window: the repeated code sent twice at once across two isolates passes once", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    await useRepeatingSecret(t, admin);
    const other = createServices(t.deps);
    t.clock.set(stepStart(REPEAT_STEP + 1) - 1);
    const principal = await t.services.identity.authenticate(`Bearer ${admin.token}`, meta);
    const results = await Promise.allSettled(
      [t.services, other, t.services, other].map((s) =>
        s.identity.verifySecondFactor(principal, { otp: REPEATED_CODE }, meta)
      ),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.equal((r.reason as AppError).code, "otp_replayed");
    }
    t.clock.advance(1);
    assert.equal(await verify(t, admin, REPEATED_CODE), "otp_replayed", "nor after the boundary");
  }, { clock: new ManualClock(stepStart(REPEAT_STEP)) });
});

Deno.test("TOTP window: wrong codes lock the factor after 5 even when sent at once; replays do not count", async () => {
  await withTestApp(async (t) => {
    const admin = await createAdmin(t, "admin");
    const s = 59_200_000;
    t.clock.set(stepStart(s) + 5_000);
    assert.equal(await verify(t, admin, codeAt(admin, s)), "ok");
    for (let i = 0; i < 6; i++) {
      assert.equal(await verify(t, admin, codeAt(admin, s)), "otp_replayed", `replay ${i + 1}`);
    }
    const near = new Set([s - 1, s, s + 1].map((n) => codeAt(admin, n)));
    const wrong: string[] = [];
    for (let n = 0; wrong.length < 9; n++) {
      const c = String((Number(codeAt(admin, s)) + 1 + n * 7919) % 1_000_000).padStart(6, "0");
      if (!near.has(c)) wrong.push(c);
    }
    const answers = await Promise.all(wrong.map((c) => verify(t, admin, c)));
    assert.equal(answers.filter((a) => a === "otp_invalid").length, 4, answers.join());
    assert.equal(answers.filter((a) => a === "otp_locked").length, 5, answers.join());
    const entries = await auditEntries(t.kv);
    assert.equal(entries.filter((e) => e.action === "auth.otp_failed").length, 5);
    assert.equal(entries.filter((e) => e.action === "auth.otp_locked").length, 1);
    // locked: the next step's right code waits too, through the step-up route as well
    t.clock.set(stepStart(s + 1));
    assert.equal(await verify(t, admin, codeAt(admin, s + 1)), "otp_locked");
    const res = await t.app.request(
      "/api/admin/step-up",
      jsonRequest("POST", authHeaders(admin), { code: codeAt(admin, s + 2) }),
    );
    assert.equal(res.status, 429);
    assert.equal((await res.json()).code, "otp_locked");
  });
});
