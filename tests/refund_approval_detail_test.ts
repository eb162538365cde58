/**
 * A refund awaiting approval says in words why (README "Refund approval policy"): what the
 * requester's refunds of 24 h add up to against the threshold or the daily cap, so that a
 * 1.00 refund held for `threshold` is not a riddle to the requester or the approver.
 */
import assert from "node:assert/strict";
import { authHeaders, jsonRequest, stepUpHeaders } from "./helpers/identity.ts";
import { withRefundWorld } from "./helpers/refunds.ts";

const REFUNDS = "/api/admin/payments/refunds";

Deno.test("a refund held for threshold or daily cap shows the sums that held it, on the refund and in the queue", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(9000);
    const headers = await stepUpHeaders(w.t, w.operator);
    const ask = async (amount: number) =>
      await w.t.app.request(
        REFUNDS,
        jsonRequest("POST", headers, {
          transaction_id: pay.txnId,
          amount,
          reason: "requested_by_customer",
          note: `part of ${amount}`,
        }),
      );
    const first = await ask(3000);
    assert.equal(first.status, 201);
    assert.equal((await first.json()).approval.detail, null);

    const held = await ask(2500);
    assert.equal(held.status, 202);
    const body = await held.json();
    assert.deepEqual(body.approval.reasons, ["threshold", "daily_cap"]);
    assert.equal(
      body.approval.detail,
      "threshold: 25.00 USD with the requester's other refunds of 24 h on this payment, its " +
        "customer or its card (30.00 USD) is 55.00 USD, at or above 50.00 USD; daily cap: 25.00 " +
        "USD with the requester's other USD refunds of 24 h (30.00 USD) is 55.00 USD, above " +
        "54.00 USD",
    );
    const shown = await (await w.t.app.request(`${REFUNDS}/${body.id}`, {
      headers: authHeaders(w.operator2),
    })).json();
    assert.equal(shown.approval.detail, body.approval.detail);
    const queue = await (await w.t.app.request("/api/admin/approvals", {
      headers: authHeaders(w.operator2),
    })).json();
    const request = queue.data.find((r: { id: string }) => r.id === body.id);
    assert.equal(
      request.summary,
      `refund 25.00 USD on ${pay.txnId} (${body.approval.detail})`,
    );
  }, { env: { REFUND_APPROVAL_THRESHOLD: "5000", REFUND_DAILY_CAP_PER_OPERATOR: "5400" } });
});
