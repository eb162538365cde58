/**
 * A fraud rule disabled (approved by a second admin) on one isolate while
 * another is evaluating payments with the settings it read before (README
 * "Fraud detection", Tuning): once the disable has committed, the rule
 * raises nothing, so the walk that read the old settings must not commit an
 * alert of that rule after it; it evaluates again under the new settings.
 */
import assert from "node:assert/strict";
import { createIsolateOf, createTestApp, type TestApp } from "./helpers/app.ts";
import { generateStream } from "./helpers/fraud_stream.ts";
import { T0 } from "./helpers/stripe_objects.ts";
import { WALK_LAG_MS } from "../services/fraud/mod.ts";
import { createAdmin, otpHeaders, sendJson, stepUpHeaders } from "./helpers/identity.ts";
import { keys } from "../kv/keys.ts";

const RULES = "/api/admin/payments/fraud/rules";

/** `kv` whose next commit writing a key under `prefix` first awaits `before` (once). */
function beforeCommitWriting(kv: Deno.Kv, prefix: Deno.KvKey, before: () => Promise<void>) {
  let armed = true;
  const atomic = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = atomic();
    let writes = false;
    const set = op.set.bind(op);
    op.set = (key, value, options) => {
      if (prefix.every((p, i) => key[i] === p)) writes = true;
      return set(key, value, options);
    };
    const commit = op.commit.bind(op);
    op.commit = async () => {
      if (writes && armed) {
        armed = false;
        await before();
      }
      return await commit();
    };
    return op;
  };
  return kv;
}

async function disableVelocity(t: TestApp) {
  const [admin, admin2] = [await createAdmin(t, "admin"), await createAdmin(t, "admin")];
  const asked = await sendJson(t, "PUT", `${RULES}/velocity`, await stepUpHeaders(t, admin), {
    enabled: false,
  });
  assert.equal(asked.status, 202, JSON.stringify(asked.body));
  return async () => {
    const ok = await sendJson(
      t,
      "POST",
      `/api/admin/approvals/${asked.body.approval.id}/approve`,
      otpHeaders(t, admin2),
      {},
    );
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  };
}

Deno.test("isolates: a rule disabled on one isolate while the other's walk evaluates raises nothing after", async () => {
  const t = await createTestApp({ file: true });
  const other = await createIsolateOf(t);
  try {
    const s = generateStream(T0, 5, 30);
    for (const e of s.events) await t.services.stripeEvents.apply(e);
    t.clock.advance(WALK_LAG_MS);
    const approve = await disableVelocity(t);
    // the other isolate's walk has read the settings (velocity on) and is about to raise
    beforeCommitWriting(other.kv, keys.fraudAlert("x").slice(0, 1), approve);
    const run = await other.services.fraud.live({ trigger: "test" });
    assert.ok(run && run.alerts_raised > 0, "other rules still raise");
    const velocity = await t.services.fraud.listAlerts({ limit: 100, rule: "velocity" });
    assert.deepEqual(velocity.data.map((a) => a.subject), [], "velocity was disabled first");
    const verified = await t.services.audit.verify();
    assert.equal(verified.ok, true);
  } finally {
    await other.close();
    await t.close();
  }
});

Deno.test("isolates: a rule tightened meanwhile still raises, under its new version", async () => {
  const t = await createTestApp({ file: true });
  const other = await createIsolateOf(t);
  try {
    const s = generateStream(T0, 5, 30);
    for (const e of s.events) await t.services.stripeEvents.apply(e);
    t.clock.advance(WALK_LAG_MS);
    const admin = await createAdmin(t, "admin");
    const h = await stepUpHeaders(t, admin);
    beforeCommitWriting(other.kv, keys.fraudAlert("x").slice(0, 1), async () => {
      const r = await sendJson(t, "PUT", `${RULES}/velocity`, h, { watch_points: 30 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    });
    await other.services.fraud.live({ trigger: "test" });
    const velocity = await t.services.fraud.listAlerts({ limit: 100, rule: "velocity" });
    assert.deepEqual(velocity.data.map((a) => [a.subject, a.rule_version]), [
      ["cus_injVelocity", 2],
    ]);
  } finally {
    await other.close();
    await t.close();
  }
});

Deno.test("isolates: a customer snoozed on one isolate while the other's walk evaluates is not raised after", async () => {
  const t = await createTestApp({ file: true });
  const other = await createIsolateOf(t);
  try {
    const s = generateStream(T0, 5, 30);
    for (const e of s.events) await t.services.stripeEvents.apply(e);
    t.clock.advance(WALK_LAG_MS);
    const analyst = await createAdmin(t, "analyst");
    beforeCommitWriting(other.kv, keys.fraudAlert("x").slice(0, 1), async () => {
      const r = await sendJson(t, "POST", "/api/admin/payments/fraud/snoozes", {
        authorization: `Bearer ${analyst.token}`,
      }, {
        customer: "cus_injVelocity",
        rule: "velocity",
        until: new Date(t.clock.now() + 24 * 3600_000).toISOString(),
        note: "a known wholesale buyer",
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    });
    const run = await other.services.fraud.live({ trigger: "test" });
    assert.ok(run && run.alerts_raised > 0, "other subjects and rules still raise");
    const velocity = await t.services.fraud.listAlerts({ limit: 100, rule: "velocity" });
    assert.deepEqual(velocity.data.map((a) => a.subject), [], "snoozed before the raise landed");
  } finally {
    await other.close();
    await t.close();
  }
});
