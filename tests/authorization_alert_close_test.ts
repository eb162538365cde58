/**
 * An `authorization_expiring` alert closes once the authorization is captured
 * or canceled: in the commit that settles the capture or cancel, or, when the
 * payment moved without us, when the sweep sees the transaction no longer
 * awaiting capture (README "Ops alerts").
 */
import assert from "node:assert/strict";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { jsonRequest } from "./helpers/identity.ts";

const TXNS = "/api/admin/payments/transactions";

async function alertOf(w: RetryWorld, txnId: string) {
  const all = (await w.t.services.opsAlerts.list({ limit: 50 })).data;
  const a = all.find((x) => x.kind === "authorization_expiring" && x.transaction_id === txnId);
  assert.ok(a);
  return a;
}

async function alerted(w: RetryWorld, amount: number) {
  const { pi } = await authorizeAtStripe(w.stripe, amount, "alert@example.com");
  await w.deliver();
  const txnId = (await w.t.services.transactions.get(pi.id)).id;
  w.clock.advance(6 * 24 * 3600_000 + 60_000);
  assert.equal(await w.t.services.retries.sweepExpiringAuthorizations(), 1);
  assert.equal((await alertOf(w, txnId)).status, "open");
  return { pi, txnId };
}

Deno.test("capturing an authorization closes its expiry alert in the same commit", async () => {
  await withRetryWorld(async (w) => {
    const a = await alerted(w, 4000);
    const res = await w.t.app.request(
      `${TXNS}/${a.txnId}/capture`,
      jsonRequest("POST", await w.stepUp(), {}),
    );
    assert.equal(res.status, 201);
    const alert = await alertOf(w, a.txnId);
    assert.equal(alert.status, "closed");
    assert.match(String(alert.close_note), /captured/);
  });
});

Deno.test("an authorization that lapsed at Stripe has its expiry alert closed by the next sweep", async () => {
  await withRetryWorld(async (w) => {
    const a = await alerted(w, 3000);
    await w.stripe.paymentIntents.cancel(a.pi.id); // it lapsed; its webhooks are lost
    await w.dropHeld();
    const res = await w.t.app.request(
      `${TXNS}/${a.txnId}/capture`,
      jsonRequest("POST", await w.stepUp(), {}),
    );
    assert.equal(res.status, 409, "refused by Stripe; the transaction is read from it");
    assert.equal((await w.t.services.transactions.get(a.txnId)).status, "canceled");
    await w.t.services.retries.sweepExpiringAuthorizations();
    const alert = await alertOf(w, a.txnId);
    assert.equal(alert.status, "closed");
    assert.match(String(alert.close_note), /canceled/);
  });
});
