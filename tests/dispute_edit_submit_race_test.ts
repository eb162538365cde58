/**
 * An evidence edit racing a submit (README, "Dispute workbench", Submitting
 * once): the edit either lands before the submission and is what Stripe
 * submits, or it is refused 409 after it. Never is a draft stored that Stripe
 * did not get while the dispute shows submitted.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { withRefundWorld } from "./helpers/refunds.ts";
import { API, call, disputedPayment, PNG, submitAs, uploadRequest } from "./helpers/disputes.ts";
import { jsonRequest, stepUpHeaders } from "./helpers/identity.ts";

const A = { customer_name: "Ada Lovelace", product_description: "Concert ticket" };
const B = { customer_name: "Ada King", uncategorized_text: "Signed for delivery" };

/** The classic text fields Stripe holds, as a draft (empty ones left out). */
function held(d: Stripe.Dispute): Record<string, string> {
  return Object.fromEntries(
    Object.entries(d.evidence as unknown as Record<string, unknown>)
      .filter(([, v]) => typeof v === "string" && v !== ""),
  ) as Record<string, string>;
}

Deno.test("an edit whose commit came first is what Stripe submits, even with its stage still in flight", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, A);
    const path = `/v1/disputes/${dispute.stripe_dispute}`;
    // the edit's stage (submit=false) is held at Stripe; the submit goes by it
    const stage = w.emu.faults.inject({ kind: "latency", method: "POST", path, ms: Infinity });
    const edit = call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, B);
    while (stage.remaining() > 0) await new Promise((r) => setTimeout(r, 5));
    const submitted = await submitAs(w, w.operator, dispute.id);
    assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
    assert.deepEqual(submitted.body.evidence, B);
    await stage.release();
    const saved = await edit;
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence_details.submission_count, 1);
    assert.deepEqual(held(atStripe), B);
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.equal(shown.phase, "submitted");
    assert.deepEqual(shown.evidence, B);
  });
});

Deno.test("an edit or upload arriving while the submission is in flight is 409; nothing stored", async () => {
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, A);
    const path = `/v1/disputes/${dispute.stripe_dispute}`;
    const held_ = w.emu.faults.inject({ kind: "latency", method: "POST", path, ms: Infinity });
    const submit = submitAs(w, w.operator, dispute.id);
    while (held_.remaining() > 0) await new Promise((r) => setTimeout(r, 5));
    const edit = await call(w, w.operator2, "PUT", `/disputes/${dispute.id}/evidence`, B);
    assert.equal(edit.status, 409, JSON.stringify(edit.body));
    assert.match(edit.body.detail, /submitted in this round/);
    assert.ok(edit.body.detail.includes(`by ${w.operator.id} at`), edit.body.detail);
    const mine = await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, B);
    assert.equal(mine.status, 409);
    assert.ok(mine.body.detail.includes(`by you (${w.operator.id}) at`), mine.body.detail);
    const file = await w.t.app.request(
      `${API}/disputes/${dispute.id}/files`,
      await uploadRequest(w.operator.token, new Blob([PNG], { type: "image/png" }), "r.png"),
    );
    assert.equal(file.status, 409, await file.text());
    await held_.release();
    assert.equal((await submit).status, 200);
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.deepEqual(held(atStripe), A);
    assert.deepEqual((await w.t.services.disputes.get(dispute.id)).evidence, A);
    assert.equal((await w.stripe.files.list()).data.length, 0, "nothing uploaded");
  });
});

Deno.test("edits and submits sent together: what the dispute shows submitted is what Stripe holds", async () => {
  await withRefundWorld(async (w) => {
    for (let round = 0; round < 4; round++) {
      const { dispute } = await disputedPayment(w);
      await call(w, w.operator, "PUT", `/disputes/${dispute.id}/evidence`, A);
      const h1 = await stepUpHeaders(w.t, w.operator);
      const h2 = await stepUpHeaders(w.t, w.operator2);
      const edits = [B, { ...B, shipping_carrier: "UPS" }, { customer_name: `n${round}` }];
      const answers = await Promise.all([
        ...edits.map((e, i) =>
          w.t.app.request(
            `${API}/disputes/${dispute.id}/evidence`,
            jsonRequest("PUT", i % 2 ? h1 : h2, e),
          )
        ),
        w.t.app.request(`${API}/disputes/${dispute.id}/submit`, jsonRequest("POST", h1)),
      ]);
      const statuses = answers.map((r) => r.status);
      await Promise.all(answers.map((r) => r.body?.cancel()));
      assert.ok(statuses.slice(0, 3).every((s) => s === 200 || s === 409), String(statuses));
      assert.equal(statuses[3], 200, String(statuses));
      const shown = await w.t.services.disputes.get(dispute.id);
      const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
      assert.equal(shown.phase, "submitted");
      assert.equal(atStripe.evidence_details.submission_count, 1);
      assert.deepEqual(held(atStripe), shown.evidence, `round ${round}: ${statuses}`);
    }
  });
});
