/**
 * When reconciliation settles a retry attempt or an authorization's capture or
 * cancel, the settle entry carries Stripe's request id of the call that
 * decided it (README "Retrying failed payments": `retry.settle` with Stripe's
 * request id): the PaymentIntent read for `succeeded`, `failed` and
 * `not_received_by_stripe`, the attach sent again for `not_confirmed`.
 */
import assert from "node:assert/strict";
import { auditEntries } from "./helpers/identity.ts";
import { jsonRequest } from "./helpers/identity.ts";
import { RETRIES, type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { onlyStripeRequestId } from "./helpers/stripe_call_ids.ts";

const CONFIRM = /\/confirm$/;
const ATTACH = /^\/v1\/payment_methods\/[^/]+\/attach$/;
const READ = "payment_intents.retrieve";

async function settleEntry(w: RetryWorld, action: string, target: string) {
  const found = (await auditEntries(w.t.kv)).filter((e) =>
    e.action === action && e.target?.id === target
  );
  assert.equal(found.length, 1, `one ${action} of ${target}`);
  return found[0];
}

for (
  const [card, status] of [
    ["pm_card_visa", "succeeded"],
    ["pm_card_chargeDeclinedInsufficientFunds", "failed"],
  ] as const
) {
  Deno.test(`a retry reconciliation settles ${status}: retry.settle names the PaymentIntent read's request id`, async () => {
    await withRetryWorld(async (w) => {
      const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
      w.emu.faults.inject({ method: "POST", path: CONFIRM, kind: "act_then_drop" });
      const res = await w.retry({ transaction_id: f.txnId, payment_method: card });
      assert.equal(res.status, 202);
      await w.dropHeld(); // no webhook: reconciliation's read decides
      w.clock.advance(61_000);
      w.t.logs.length = 0;
      await w.runAllJobs();
      const r = await w.get(`${RETRIES}/${res.body.id}`);
      assert.equal(r.body.status, status);
      assert.equal(r.body.settled_by, "reconcile");
      const read = onlyStripeRequestId(w.t.logs, READ);
      const entry = await settleEntry(w, "retry.settle", String(res.body.id));
      assert.equal(entry.stripe_request_id, read);
      assert.equal(r.body.stripe_request_id, read);
    });
  });
}

Deno.test("a retry closed not_received_by_stripe: retry.settle names the PaymentIntent read's request id", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    w.emu.faults.inject({ method: "POST", path: CONFIRM, kind: "server_error", times: Infinity });
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(res.status, 202);
    w.emu.faults.clear();
    w.clock.advance(23 * 3600_000 + 61_000);
    w.t.logs.length = 0;
    assert.equal((await w.t.services.retries.reconcile()).not_received, 1);
    const r = await w.get(`${RETRIES}/${res.body.id}`);
    assert.equal(r.body.failure_code, "not_received_by_stripe");
    const entry = await settleEntry(w, "retry.settle", String(res.body.id));
    assert.equal(entry.stripe_request_id, onlyStripeRequestId(w.t.logs, READ));
  });
});

Deno.test("a retry closed not_confirmed: retry.settle names the request id of the attach sent again", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    w.emu.faults.inject({ method: "POST", path: ATTACH, kind: "act_then_drop" });
    const headers = await w.stepUp();
    const first = await w.t.app.request(
      RETRIES,
      jsonRequest("POST", headers, { transaction_id: f.txnId, payment_method: "pm_card_visa" }),
    );
    assert.equal(first.status, 503);
    const id = String((await first.json()).retry_id);
    w.clock.advance(61_000);
    w.t.logs.length = 0;
    await w.runAllJobs();
    const r = await w.get(`${RETRIES}/${id}`);
    assert.equal(r.body.failure_code, "not_confirmed");
    const entry = await settleEntry(w, "retry.settle", id);
    assert.equal(entry.stripe_request_id, onlyStripeRequestId(w.t.logs, "payment_methods.attach"));
  });
});

Deno.test("a capture settled by reconciliation: its settle entry names the PaymentIntent read's request id", async () => {
  await withRetryWorld(async (w) => {
    const { pi } = await authorizeAtStripe(w.stripe, 5000, "hold@example.com");
    await w.deliver();
    const txnId = (await w.t.services.transactions.get(pi.id)).id;
    w.emu.faults.inject({ method: "POST", path: /\/capture$/, kind: "act_then_drop" });
    const headers = await w.stepUp();
    const res = await w.t.app.request(
      `/api/admin/payments/transactions/${txnId}/capture`,
      jsonRequest("POST", headers, {}),
    );
    assert.equal(res.status, 202);
    const actionId = String((await res.json()).id);
    await w.dropHeld();
    w.clock.advance(61_000);
    w.t.logs.length = 0;
    await w.runAllJobs();
    const settles = (await auditEntries(w.t.kv)).filter((e) =>
      e.action === "authorization.capture.settle"
    );
    assert.equal(settles.length, 1);
    assert.equal((settles[0].after as { action_id: string }).action_id, actionId);
    assert.equal(settles[0].result, "ok");
    assert.equal(settles[0].stripe_request_id, onlyStripeRequestId(w.t.logs, READ));
  });
});

Deno.test("a cancel closed not_received_by_stripe: its settle entry names the PaymentIntent read's request id", async () => {
  await withRetryWorld(async (w) => {
    const { pi } = await authorizeAtStripe(w.stripe, 5000, "hold@example.com");
    await w.deliver();
    const txnId = (await w.t.services.transactions.get(pi.id)).id;
    w.emu.faults.inject({
      method: "POST",
      path: /\/cancel$/,
      kind: "server_error",
      times: Infinity,
    });
    const headers = await w.stepUp();
    const res = await w.t.app.request(
      `/api/admin/payments/transactions/${txnId}/cancel`,
      jsonRequest("POST", headers, { reason: "abandoned", note: "the order was dropped" }),
    );
    assert.equal(res.status, 202);
    w.emu.faults.clear();
    w.clock.advance(23 * 3600_000 + 61_000);
    w.t.logs.length = 0;
    await w.t.services.retries.reconcile();
    const settles = (await auditEntries(w.t.kv)).filter((e) =>
      e.action === "authorization.cancel.settle"
    );
    assert.equal(settles.length, 1);
    assert.equal(settles[0].result, "failed");
    assert.match(String(settles[0].reason), /no trace/);
    assert.equal(settles[0].stripe_request_id, onlyStripeRequestId(w.t.logs, READ));
  });
});
