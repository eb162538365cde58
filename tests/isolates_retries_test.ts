/**
 * A payment retry on one isolate while its webhooks land on another (Deno
 * Deploy spreads deliveries over isolates; the details only Stripe's answer
 * carries are kept in the asking isolate's memory): money moves once, the
 * attempt settles once, and the answer still carries what the operator needs.
 */
import assert from "node:assert/strict";
import { allLedgerEntries } from "../kv/customers.ts";
import { RETRIES, withRetryWorld } from "./helpers/retries.ts";
import { jsonRequest } from "./helpers/identity.ts";

Deno.test("isolates: a retry racing its webhooks delivered to another isolate credits once", async () => {
  await withRetryWorld(async (w) => {
    const other = await w.isolate();
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedInsufficientFunds");
    w.t.services.retries.hooks.afterStripeCall = async () => {
      assert.ok((await other.deliver()) > 0, "the retry's webhooks were delivered first");
    };
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    w.t.services.retries.hooks.afterStripeCall = undefined;
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, "succeeded");
    await other.deliver();
    const ledger = await allLedgerEntries(w.t.kv, f.customer);
    assert.deepEqual(ledger.filter((e) => e.type === "payment").map((e) => e.amount), [5000]);
    const settles = (await w.t.services.audit.list({ limit: 100, action: "retry.settle" })).data;
    assert.equal(settles.length, 1, "settled once");
  }, { file: true });
});

Deno.test("isolates: a 3-D Secure retry whose webhook another isolate applied first still answers next_action", async () => {
  await withRetryWorld(async (w) => {
    const other = await w.isolate();
    const alone = await w.failedPayment(4200, "pm_card_chargeDeclinedInsufficientFunds");
    const f = await w.failedPayment(4200, "pm_card_chargeDeclinedInsufficientFunds");
    const body = (txnId: string) => ({
      transaction_id: txnId,
      payment_method: "pm_card_authenticationRequired",
      off_session: false,
    });
    // what the answer carries when its webhooks come later
    const expected = await w.retry(body(alone.txnId));
    assert.equal(expected.status, 201, JSON.stringify(expected.body));
    assert.equal(expected.body.status, "requires_action");
    await w.deliver();
    w.t.services.retries.hooks.afterStripeCall = async () => {
      assert.ok((await other.deliver()) > 0, "the retry's webhooks were delivered first");
    };
    const res = await w.retry(body(f.txnId));
    w.t.services.retries.hooks.afterStripeCall = undefined;
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, "requires_action");
    const shape = (b: Record<string, unknown>) =>
      Object.keys(b).filter((k) => b[k] !== null && b[k] !== undefined).sort();
    assert.deepEqual(shape(res.body), shape(expected.body), JSON.stringify(res.body));
    const shown = await w.get(`${RETRIES}/${res.body.id}`);
    assert.equal(shown.body.status, "requires_action");
  }, { file: true });
});

Deno.test("isolates: the same retry under one Idempotency-Key on both at once charges once", async () => {
  await withRetryWorld(async (w) => {
    const other = await w.isolate();
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const headers = { ...await w.stepUp(), "idempotency-key": "retry-once" };
    const body = { transaction_id: f.txnId, payment_method: "pm_card_visa" };
    const send = (app: typeof w.t.app) => app.request(RETRIES, jsonRequest("POST", headers, body));
    const answers = await Promise.all([send(w.t.app), send(other.t.app), send(other.t.app)]);
    const ids = new Set<string>();
    for (const r of answers) {
      const json = await r.json();
      if (r.status === 201) ids.add(json.id);
      else assert.equal(r.status, 409, JSON.stringify(json));
    }
    assert.equal(ids.size, 1, "one attempt");
    const charges = await w.charges(f.pi.id);
    assert.equal(charges.filter((c) => c.status === "succeeded").length, 1);
    const replay = await send(other.t.app);
    assert.equal(replay.status, 201);
    assert.equal((await replay.json()).id, [...ids][0]);
  }, { file: true });
});
