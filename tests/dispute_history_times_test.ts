/**
 * README "API": every time shown is an ISO 8601 UTC string, `evidence_due_by`
 * included (only a webhook event's `created` and an audit entry's `at` stay
 * numbers). A dispute's history showed the deadline it recorded as Stripe's
 * unix seconds (`changes.evidence_due_by: 1797194630`) beside the ISO
 * `evidence_due_by` of the same answer.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";

Deno.test("a dispute's history shows evidence_due_by as the ISO time the dispute shows", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const shown = await call(w, w.operator, "GET", `/disputes/${dispute.id}`);
    assert.equal(shown.status, 200);
    assert.match(shown.body.evidence_due_by, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const opened = shown.body.history.find((h: { changes: Record<string, unknown> }) =>
      "evidence_due_by" in h.changes
    );
    assert.ok(opened, JSON.stringify(shown.body.history));
    assert.equal(opened.changes.evidence_due_by, shown.body.evidence_due_by);
  });
});
