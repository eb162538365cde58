/**
 * A retry waiting on its customer shows the PaymentIntent's `client_secret` to
 * those who may retry, and that answer is a secret one (README "API": such
 * answers are `Cache-Control: no-store`, with no ETag); the same attempt shown
 * to a viewer, without the secret, is an ordinary admin answer.
 */
import assert from "node:assert/strict";
import { authHeaders, createAdmin } from "./helpers/identity.ts";
import { RETRIES, withRetryWorld } from "./helpers/retries.ts";

Deno.test("an answer showing a retry's client_secret is no-store with no ETag; a viewer's is private, no-cache", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(4200, "pm_card_chargeDeclined");
    const created = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_authenticationRequired",
      off_session: false,
    });
    assert.equal(created.body.status, "requires_action");
    assert.ok(created.body.client_secret);
    assert.equal(created.headers.get("cache-control"), "no-store");
    const id = String(created.body.id);

    for (const path of [`${RETRIES}/${id}`, `${RETRIES}?transaction_id=${f.txnId}`]) {
      const res = await w.t.app.request(path, { headers: authHeaders(w.operator) });
      const body = await res.json();
      assert.equal(res.status, 200, path);
      assert.match(JSON.stringify(body), /_secret_/, path);
      assert.equal(res.headers.get("cache-control"), "no-store", path);
      assert.equal(res.headers.get("etag"), null, path);
    }

    const viewer = await createAdmin(w.t, "viewer");
    const res = await w.t.app.request(`${RETRIES}/${id}`, { headers: authHeaders(viewer) });
    assert.equal((await res.json()).client_secret, null);
    assert.equal(res.headers.get("cache-control"), "private, no-cache");
    assert.ok(res.headers.get("etag"));
  });
});
