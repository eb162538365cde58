/**
 * A dispute's evidence submitted from two isolates of one deployment at once
 * (two operators, each on another isolate): submitted to Stripe once, the
 * other told so.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment } from "./helpers/disputes.ts";
import { jsonRequest, otpHeaders } from "./helpers/identity.ts";

Deno.test("isolates: the same dispute submitted on both at once goes to Stripe once", async () => {
  await withRefundWorld(async (w) => {
    const other = await w.isolate();
    const { dispute } = await disputedPayment(w);
    const saved = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, {
      customer_name: "Ada Lovelace",
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    const submit = (t: typeof w.t, h: Record<string, string>) =>
      t.app.request(`${API}/disputes/${dispute.id}/submit`, jsonRequest("POST", h));
    const answers = await Promise.all([
      submit(w.t, otpHeaders(w.t, w.operator)),
      submit(other.t, otpHeaders(w.t, w.operator2)),
    ]);
    const statuses = answers.map((r) => r.status).sort();
    const bodies = await Promise.all(answers.map((r) => r.json()));
    assert.equal(statuses[0], 200, JSON.stringify(bodies));
    assert.ok([200, 409].includes(statuses[1]), JSON.stringify(bodies));
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence_details.submission_count, 1);
    await w.deliver();
    const verified = await w.t.services.audit.verify();
    assert.equal(verified.ok, true);
  }, { file: true });
});
