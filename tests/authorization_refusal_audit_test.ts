/**
 * Refused captures and cancels are audited as denied, as retries' refusals are
 * (README "Retrying failed payments": refusals and the 409s are audited as denied).
 */
import assert from "node:assert/strict";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { jsonRequest } from "./helpers/identity.ts";

const TXNS = "/api/admin/payments/transactions";

async function post(w: RetryWorld, path: string, body: unknown) {
  const res = await w.t.app.request(path, jsonRequest("POST", await w.stepUp(), body));
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

async function denied(w: RetryWorld, action: string, txnId: string) {
  const all = (await w.t.services.audit.list({ limit: 100, action })).data;
  return all.filter((e) => e.target?.id === txnId && e.result === "denied");
}

Deno.test("refused captures and cancels (409, 422) are audited as denied", async () => {
  await withRetryWorld(async (w) => {
    const { pi } = await authorizeAtStripe(w.stripe, 5000, "denied@example.com");
    await w.deliver();
    const txnId = (await w.t.services.transactions.get(pi.id)).id;

    const over = await post(w, `${TXNS}/${txnId}/capture`, { amount_to_capture: 9000 });
    assert.equal(over.status, 422);
    let d = await denied(w, "authorization.capture", txnId);
    assert.equal(d.length, 1);
    assert.match(String(d[0].reason), /at most the authorized/);

    assert.equal((await post(w, `${TXNS}/${txnId}/capture`, {})).status, 201);
    const again = await post(w, `${TXNS}/${txnId}/cancel`, { reason: "abandoned", note: "x" });
    assert.equal(again.status, 409);
    d = await denied(w, "authorization.cancel", txnId);
    assert.equal(d.length, 1);
    assert.match(String(d[0].reason), /already sent a capture/);

    const paid = await w.pay(1000);
    assert.equal((await post(w, `${TXNS}/${paid.txnId}/capture`, {})).status, 409);
    assert.equal((await denied(w, "authorization.capture", paid.txnId)).length, 1);
  });
});
