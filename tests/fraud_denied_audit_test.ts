/**
 * The audit log records every fraud action, refused ones too (README: "the
 * audit log records every action, denied ones too"): a refused status
 * change, a refund of an alert resolved legitimate, a snooze over the cap are
 * `denied` entries by whoever asked; a manual sweep names who started it,
 * and one refused because another runs is `denied`.
 */
import { knownCustomers } from "./helpers/fraud.ts";
import assert from "node:assert/strict";
import { withTestApp } from "./helpers/app.ts";
import type { TestApp } from "./helpers/app.ts";
import {
  auditEntries,
  authHeaders,
  createAdmin,
  otpHeaders,
  sendJson,
} from "./helpers/identity.ts";
import { oneAlert } from "./helpers/fraud.ts";
import { keys } from "../kv/keys.ts";

const BASE = "/api/admin/payments/fraud";

async function entriesOf(t: TestApp, action: string, result: string) {
  return (await auditEntries(t.kv)).filter((e) => e.action === action && e.result === result);
}

Deno.test("refused fraud actions are audited denied, by whoever asked", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const operator = await createAdmin(t, "operator");
    const h = authHeaders(analyst);
    const id = await oneAlert(t, "cus_denied");

    const skip = await sendJson(t, "PATCH", `${BASE}/alerts/${id}`, h, {
      status: "resolved_fraud",
      note: "obvious",
    });
    assert.equal(skip.status, 409);
    let denied = await entriesOf(t, "fraud_alert.update", "denied");
    assert.equal(denied.length, 1);
    assert.equal(denied[0].actor.id, analyst.id);
    assert.equal(denied[0].target?.id, id);
    assert.match(denied[0].reason ?? "", /open: it can move to investigating/);

    // a burst of the same change by two analysts: one goes through; the winner's others are
    // second clicks (its answer, nothing written), each of the other analyst's a denied entry
    const second = await createAdmin(t, "analyst");
    const who = [analyst, second, analyst, second, analyst];
    const burst = await Promise.all(
      who.map((a) =>
        sendJson(t, "PATCH", `${BASE}/alerts/${id}`, authHeaders(a), { status: "investigating" })
      ),
    );
    const moved = await entriesOf(t, "fraud_alert.update", "ok");
    assert.equal(moved.length, 1, "one move");
    const winner = moved[0].actor.id;
    burst.forEach((r, i) => assert.equal(r.status, who[i].id === winner ? 200 : 409, `#${i}`));
    const refusedClicks = who.filter((a) => a.id !== winner).length;
    denied = await entriesOf(t, "fraud_alert.update", "denied");
    assert.equal(denied.length, 1 + refusedClicks);
    assert.ok(denied.slice(1).every((e) => e.actor.id !== winner));

    await sendJson(t, "PATCH", `${BASE}/alerts/${id}`, h, {
      status: "resolved_legitimate",
      note: "known customer",
    });
    const refund = await sendJson(
      t,
      "POST",
      `${BASE}/alerts/${id}/refunds`,
      otpHeaders(t, operator),
      { note: "refund anyway" },
    );
    assert.equal(refund.status, 409);
    const refused = await entriesOf(t, "fraud_alert.refunds_requested", "denied");
    assert.equal(refused.length, 1);
    assert.equal(refused[0].actor.id, operator.id);
    assert.match(refused[0].reason ?? "", /resolved_legitimate/);

    await knownCustomers(t.kv, "cus_sz99", ...Array.from({ length: 20 }, (_, n) => `cus_sz${n}`));
    for (let n = 0; n < 20; n++) {
      const ok = await sendJson(t, "POST", `${BASE}/snoozes`, h, {
        customer: `cus_sz${n}`,
        rule: "velocity",
        until: new Date(t.clock.now() + 24 * 3600_000).toISOString(),
        note: "known reseller",
      });
      assert.equal(ok.status, 201);
    }
    const over = await sendJson(t, "POST", `${BASE}/snoozes`, h, {
      customer: "cus_sz99",
      rule: "velocity",
      until: new Date(t.clock.now() + 24 * 3600_000).toISOString(),
      note: "known reseller",
    });
    assert.equal(over.status, 409);
    const snoozes = await entriesOf(t, "fraud_snooze.create", "denied");
    assert.equal(snoozes.length, 1);
    assert.equal(snoozes[0].actor.id, analyst.id);
    assert.equal((snoozes[0].after as { customer: string }).customer, "cus_sz99");
  });
});

Deno.test("POST /fraud/sweeps records who started it; one refused while another runs is denied", async () => {
  await withTestApp(async (t) => {
    const analyst = await createAdmin(t, "analyst");
    const run = await sendJson(t, "POST", `${BASE}/sweeps`, authHeaders(analyst));
    assert.equal(run.status, 200);
    assert.equal(run.body.started_by, analyst.id);
    const started = await entriesOf(t, "fraud_sweep.start", "ok");
    assert.equal(started.length, 1);
    assert.equal(started[0].actor.id, analyst.id);
    assert.equal(started[0].target?.id, run.body.id);
    const listed = await sendJson(t, "GET", `${BASE}/sweeps`, authHeaders(analyst));
    assert.equal(listed.body.data[0].started_by, analyst.id);

    await t.kv.set(keys.fraudCursor("sweep:lease"), {
      run: "sweep_other",
      until: t.clock.now() + 60_000,
    });
    const busy = await sendJson(t, "POST", `${BASE}/sweeps`, authHeaders(analyst));
    assert.equal(busy.status, 409);
    const refused = await entriesOf(t, "fraud_sweep.start", "denied");
    assert.equal(refused.length, 1);
    assert.match(refused[0].reason ?? "", /sweep_other/);
    // a recorded run holding the lease: the refusal says who started it and when
    await t.kv.set(keys.fraudCursor("sweep:lease"), {
      run: run.body.id,
      until: t.clock.now() + 60_000,
    });
    const other = await createAdmin(t, "analyst");
    const held = await sendJson(t, "POST", `${BASE}/sweeps`, authHeaders(other));
    assert.equal(held.status, 409);
    assert.match(
      held.body.detail,
      new RegExp(`${run.body.id}, started by ${analyst.id} at ${run.body.started_at}`),
    );
  });
});
