/**
 * What an alert has judged is kept for a bounded time (README "Fraud
 * detection", Alerts): from the time of the payment a hit was evaluated at,
 * the longest window a rule can be given (90 days: `window_minutes` is
 * refused above it, on a `PUT` and again as an approved change applies) plus
 * a margin for payments counted late; from when it was judged, when that is
 * later. Inside that a judged payment raises nothing again, whatever the
 * rule's window was when it was judged; past it the record is gone.
 */
import assert from "node:assert/strict";
import { createTestApp, type TestApp } from "./helpers/app.ts";
import { authHeaders, createAdmin, sendJson } from "./helpers/identity.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import {
  JUDGED_MARGIN_MS,
  judgedUntil,
  MAX_WINDOW_MS,
  retainJudged,
} from "../services/fraud/judged.ts";
import { judgedOf } from "../kv/fraud.ts";
import { keys } from "../kv/keys.ts";
import { systemContext } from "../domain/actor.ts";
import { defaultRuleSettings, MAX_WINDOW_MINUTES, type Signal } from "../domain/fraud.ts";
import { ruleChangeErrors } from "../domain/fraud_rule_change.ts";

const F = "/api/admin/payments/fraud";
const DAY = 24 * 3600_000;

async function raise(t: TestApp, subject: string, s: Signal) {
  return await raiseAlerts(
    raiseDeps(t),
    systemContext("test"),
    customerTarget(subject),
    [s],
    () => ({}),
  );
}

async function resolveLegitimate(t: TestApp, id: string) {
  const h = authHeaders(await createAdmin(t, "analyst"));
  for (const status of ["investigating", "resolved_legitimate"]) {
    const res = await sendJson(t, "PATCH", `${F}/alerts/${id}`, h, { status, note: "known buyer" });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
}

Deno.test("a judged payment raises nothing again for the longest window a rule can have, and is gone past its retention", async () => {
  const t = await createTestApp();
  try {
    const at = t.clock.now();
    // judged under velocity's default window (30 min): a window made 90 days long later holds it
    const hit = velocityHit("txn_j1", new Date(at).toISOString(), {
      transactions: ["txn_j0", "txn_j1"],
    });
    const first = await raise(t, "cus_j", hit);
    assert.equal(first.raised, 1);
    await resolveLegitimate(t, first.alerts[0]);
    const row = await t.kv.get<{ alert_id: string; until: number }>(
      keys.fraudJudged("cus_j", "velocity", "txn_j0"),
    );
    assert.deepEqual(row.value, {
      alert_id: first.alerts[0],
      until: at + MAX_WINDOW_MS + JUDGED_MARGIN_MS,
    });

    // the last moment a window can hold the payments, and the margin after it: nothing raised
    t.clock.set(at + MAX_WINDOW_MS - 1);
    assert.equal((await raise(t, "cus_j", hit)).hits, 0);
    t.clock.set(at + MAX_WINDOW_MS + JUDGED_MARGIN_MS - 1);
    assert.equal((await raise(t, "cus_j", hit)).hits, 0);
    const both = await judgedOf(t.kv, "cus_j", "velocity", ["txn_j0", "txn_j1"], t.clock.now());
    assert.equal(both.size, 2);

    // past the retention: no longer judged (KV drops the rows by their expiry)
    t.clock.set(at + MAX_WINDOW_MS + JUDGED_MARGIN_MS);
    const gone = await judgedOf(t.kv, "cus_j", "velocity", ["txn_j0", "txn_j1"], t.clock.now());
    assert.equal(gone.size, 0);
    assert.equal((await raise(t, "cus_j", hit)).raised, 1);
  } finally {
    await t.close();
  }
});

Deno.test("a payment judged long after its own time is kept for the margin from when it was judged", async () => {
  const t = await createTestApp();
  try {
    const now = t.clock.now();
    const old = velocityHit("txn_old", new Date(now - 200 * DAY).toISOString());
    const r = await raise(t, "cus_late", old);
    assert.equal(r.raised, 1);
    await resolveLegitimate(t, r.alerts[0]);
    t.clock.set(now + JUDGED_MARGIN_MS - 1);
    assert.equal((await raise(t, "cus_late", old)).hits, 0);
    t.clock.set(now + JUDGED_MARGIN_MS);
    assert.equal(
      (await judgedOf(t.kv, "cus_late", "velocity", ["txn_old"], t.clock.now())).size,
      0,
    );
  } finally {
    await t.close();
  }
});

Deno.test("judgedUntil: the payment's time plus the longest window and the margin, never less than the margin from now", () => {
  const now = Date.UTC(2026, 5, 1);
  assert.equal(
    judgedUntil(new Date(now).toISOString(), now),
    now + MAX_WINDOW_MS + JUDGED_MARGIN_MS,
  );
  const earlier = now - 10 * DAY;
  assert.equal(
    judgedUntil(new Date(earlier).toISOString(), now),
    earlier + MAX_WINDOW_MS + JUDGED_MARGIN_MS,
  );
  assert.equal(judgedUntil(new Date(now - 365 * DAY).toISOString(), now), now + JUDGED_MARGIN_MS);
  assert.equal(MAX_WINDOW_MS, MAX_WINDOW_MINUTES * 60_000);
});

Deno.test("a rule's window is refused above the longest one, also where an approved change applies", () => {
  const velocity = defaultRuleSettings().velocity;
  assert.deepEqual(ruleChangeErrors(velocity, { window_minutes: MAX_WINDOW_MINUTES }), []);
  const errors = ruleChangeErrors(velocity, { window_minutes: MAX_WINDOW_MINUTES + 1 });
  assert.deepEqual(errors.map((e) => e.path), ["body.window_minutes"]);
});

Deno.test("rows judged before they had a retention get one, from the pass at start", async () => {
  const t = await createTestApp();
  try {
    const key = keys.fraudJudged("cus_legacy", "velocity", "txn_legacy");
    await t.kv.set(key, "fa_legacy");
    const now = t.clock.now();
    assert.equal((await judgedOf(t.kv, "cus_legacy", "velocity", ["txn_legacy"], now)).size, 1);
    assert.equal(await retainJudged(t.kv, t.clock), 1);
    assert.deepEqual((await t.kv.get(key)).value, {
      alert_id: "fa_legacy",
      until: now + MAX_WINDOW_MS + JUDGED_MARGIN_MS,
    });
    assert.equal(await retainJudged(t.kv, t.clock), 0, "once per store");
    t.clock.set(now + MAX_WINDOW_MS + JUDGED_MARGIN_MS - 1);
    const held = await judgedOf(t.kv, "cus_legacy", "velocity", ["txn_legacy"], t.clock.now());
    assert.equal(held.size, 1);
    t.clock.set(now + MAX_WINDOW_MS + JUDGED_MARGIN_MS);
    const gone = await judgedOf(t.kv, "cus_legacy", "velocity", ["txn_legacy"], t.clock.now());
    assert.equal(gone.size, 0);
  } finally {
    await t.close();
  }
});
