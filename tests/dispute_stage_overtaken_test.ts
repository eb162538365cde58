/**
 * A stage that newer saves keep overtaking (README, "What Stripe holds"): it
 * is sent again with the newest draft, a few rounds, and when every round is
 * overtaken it never gives up silently: `draft.stage_error` says to save the
 * same draft again, and that save stages it.
 */
import assert from "node:assert/strict";
import { withRefundWorld } from "./helpers/refunds.ts";
import { call, disputedPayment } from "./helpers/disputes.ts";

Deno.test("a stage overtaken in every round leaves a stage_error saying to save again; saving again stages it", async () => {
  // while set, each stage answer of the save under test is overtaken by a newer save that
  // lands (and stages) before the answer is recorded: the race of parallel saves, in order
  let overtake: (() => Promise<void>) | null = null;
  let nested = false;
  await withRefundWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const path = `/disputes/${dispute.id}/evidence`;
    let n = 0;
    overtake = async () => {
      nested = true;
      try {
        const newer = await call(w, w.operator2, "PUT", path, { customer_name: `newer ${++n}` });
        assert.equal(newer.status, 200, JSON.stringify(newer.body));
      } finally {
        nested = false;
      }
    };
    const saved = await call(w, w.operator, "PUT", path, { customer_name: "first" });
    overtake = null;
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.ok(n >= 2, `overtaken ${n} times`);
    const shown = await w.t.services.disputes.get(dispute.id);
    assert.equal(shown.evidence?.customer_name, `newer ${n}`);
    assert.equal(shown.draft?.staged, false);
    assert.match(shown.draft?.stage_error ?? "", /save the same draft again \(PUT …\/evidence\)/);
    // saved again as it is (by anyone): staged, the error gone
    const again = await call(w, w.operator, "PUT", path, { customer_name: `newer ${n}` });
    assert.equal(again.status, 200);
    assert.equal(again.body.draft.staged, true);
    assert.equal(again.body.draft.stage_error, null);
    const atStripe = await w.stripe.disputes.retrieve(dispute.stripe_dispute);
    assert.equal(atStripe.evidence.customer_name, `newer ${n}`);
  }, {
    intercept: (gateway) => ({
      async call(fn, options) {
        const answer = await gateway.call(fn, options);
        if (options?.label === "disputes.update(submit=false)" && overtake && !nested) {
          await overtake();
        }
        return answer;
      },
    }),
  });
});
