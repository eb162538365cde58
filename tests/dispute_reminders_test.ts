import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment, submitAs } from "./helpers/disputes.ts";
import { listAllOpsAlerts } from "../kv/ops_alerts.ts";
import { runDisputeReminders } from "../services/disputes/mod.ts";
import { runPeriodicTask } from "../services/background.ts";

const HOUR = 3600_000;

Deno.test("reminders fire once each at 72 h and 24 h, and close by themselves on submit", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const due = Date.parse(dispute.evidence_due_by!);
    const d = w.t.services.disputes;
    assert.deepEqual(await d.remind(), { reminded: 0, overdue: 0 });
    w.clock.set(due - 72 * HOUR + 1000);
    assert.deepEqual(await d.remind(), { reminded: 1, overdue: 0 });
    assert.deepEqual(await d.remind(), { reminded: 0, overdue: 0 });
    w.clock.set(due - 30 * HOUR);
    assert.deepEqual(await d.remind(), { reminded: 0, overdue: 0 });
    w.clock.set(due - 24 * HOUR + 1000);
    assert.deepEqual(await d.remind(), { reminded: 1, overdue: 0 });
    assert.deepEqual(await d.remind(), { reminded: 0, overdue: 0 });
    let alerts = await listAllOpsAlerts(w.t.kv);
    assert.deepEqual(alerts.map((a) => [a.kind, a.dispute_id, a.status]), [
      ["dispute_due_soon", dispute.id, "open"],
      ["dispute_due_soon", dispute.id, "open"],
    ]);
    const shown = await d.get(dispute.id);
    assert.deepEqual(Object.keys(shown.reminders).sort(), ["24h", "72h"]);
    const listed = await call(w, w.operator, "GET", "/ops-alerts?status=open");
    assert.equal(listed.body.data.length, 2);
    assert.equal(listed.body.data[0].dispute_id, dispute.id);

    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, { customer_name: "A" });
    const sent = await submitAs(w, w.operator, dispute.id);
    assert.equal(sent.status, 200);
    alerts = await listAllOpsAlerts(w.t.kv);
    assert.deepEqual(alerts.map((a) => a.status), ["closed", "closed"]);
    w.clock.set(due + HOUR);
    assert.deepEqual(await d.remind(), { reminded: 0, overdue: 0 });
    assert.equal((await listAllOpsAlerts(w.t.kv)).length, 2);
  });
});

Deno.test("a dispute first seen inside 24 h gets one reminder, never after submission", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const other = await disputedPayment(w);
    const due = Date.parse(dispute.evidence_due_by!);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, { customer_name: "A" });
    await call(w, w.operator, "PUT", `/disputes/${other.dispute.id}/evidence`, {
      customer_name: "B",
    });
    await call(w, w.operator, "POST", `/disputes/${other.dispute.id}/submit`, undefined, true);
    await w.deliver();
    w.clock.set(due - 10 * HOUR);
    // what the cron runs
    assert.deepEqual(await runDisputeReminders(w.t.services), { reminded: 1, overdue: 0 });
    await runPeriodicTask(w.t.services, "dispute-reminders");
    assert.deepEqual(await w.t.services.disputes.remind(), { reminded: 0, overdue: 0 });
    const alerts = await listAllOpsAlerts(w.t.kv);
    assert.deepEqual(alerts.map((a) => a.dispute_id), [dispute.id]);
    // a deadline ahead is a warning in the log, not an error
    const raised = w.t.logs.map((l) => JSON.parse(l)).filter((l) =>
      l.msg === "ops alert: dispute_due_soon"
    );
    assert.deepEqual(raised.map((l) => [l.level, l.dispute_id]), [["warn", dispute.id]]);
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.deepEqual(Object.keys(shown.reminders).sort(), ["24h", "72h"]);
  });
});
