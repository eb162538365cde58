/**
 * Stripe's word on the deadline (README, "Dispute workbench"): once Stripe marks a
 * dispute's evidence `past_due`, its deadline has passed, whatever this service's own
 * clock says (the two may drift; the demo emulator's clock can be moved ahead). The
 * dispute then offers no `evidence` or `submit`, shows no time left, and a draft save,
 * an upload or a submit is the workbench's 409 naming the deadline, before anything is
 * sent to Stripe, never Stripe's refusal passed on as a 502.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment, submitAs, uploadRequest } from "./helpers/disputes.ts";
import { otpHeaders } from "./helpers/identity.ts";

const DAY = 86_400;

Deno.test("a dispute Stripe marks past_due is past its deadline here too: 409 naming it, no evidence or submit offered", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w, 4200);
    const saved = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, {
      customer_name: "Ada",
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    // Stripe's clock passes the deadline; the service's does not
    w.emu.advanceClock(7 * DAY + 1);
    await w.deliver();
    const shown = await call(w, w.operator, "GET", `/disputes/${dispute.id}`);
    assert.equal(shown.body.past_due, true);
    assert.deepEqual(shown.body.actions, ["accept", "notes"]);
    assert.ok(shown.body.time_left_s <= 0, `time_left_s ${shown.body.time_left_s}`);

    const calls = w.emu.requests.total();
    const save = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, {
      customer_name: "Ada Lovelace",
    });
    assert.equal(save.status, 409, JSON.stringify(save.body));
    assert.match(save.body.detail, /deadline/);
    const pdf = new Blob(["%PDF-1.4\n%%EOF\n"], { type: "application/pdf" });
    const upload = await w.t.app.request(
      `${API}/disputes/${dispute.id}/files`,
      await uploadRequest(w.operator.token, pdf, "r.pdf"),
    );
    assert.equal(upload.status, 409, await upload.text());
    const submit = await submitAs(w, w.operator, dispute.id);
    assert.equal(submit.status, 409, JSON.stringify(submit.body));
    assert.match(submit.body.detail, /deadline/);
    assert.equal(w.emu.requests.total(), calls, "nothing was sent to Stripe");
    // accepting the loss is still possible
    const accept = await w.t.app.request(`${API}/disputes/${dispute.id}/accept`, {
      method: "POST",
      headers: { ...otpHeaders(w.t, w.operator), "content-type": "application/json" },
      body: JSON.stringify({ note: "too late to fight" }),
    });
    assert.equal(accept.status, 200, await accept.text());
  });
});
