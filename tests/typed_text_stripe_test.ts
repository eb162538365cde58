/**
 * The notes people type on the routes that call Stripe are masked before they are stored
 * (README, "Security"): a cancel's, a retry's, a dispute's notes and accept note, a refund's and
 * its rejection's, a fraud alert refund's. Each is sent holding a card number, a Stripe key, a
 * webhook secret, this service's token and an email; the record read back through the API and
 * every KV value hold none of them in clear. The routes without Stripe: typed_text_masked_test.ts.
 */
import assert from "node:assert/strict";
import { authorizeAtStripe } from "./helpers/refunds.ts";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { disputedPayment } from "./helpers/disputes.ts";
import { customerTarget, raiseDeps, velocityHit } from "./helpers/fraud.ts";
import { authHeaders, jsonRequest, otpHeaders } from "./helpers/identity.ts";
import { assertKvMasked, assertMasked, TYPED } from "./helpers/typed_text.ts";
import { raiseAlerts } from "../services/fraud/alerts.ts";
import { systemContext } from "../domain/actor.ts";

const API = "/api/admin/payments";

async function send(w: RetryWorld, method: string, path: string, headers: object, body?: unknown) {
  const res = await w.t.app.request(
    path.startsWith("/api/") ? path : `${API}${path}`,
    jsonRequest(method, headers as Record<string, string>, body),
  );
  return { status: res.status, body: await res.json() };
}

const read = (w: RetryWorld, path: string) => send(w, "GET", path, authHeaders(w.operator));

Deno.test("a cancel's note is stored masked", async () => {
  await withRetryWorld(async (w) => {
    const { pi } = await authorizeAtStripe(w.stripe, 5000, "hold@example.com");
    await w.deliver();
    const txn = await w.t.services.transactions.get(pi.id);
    const res = await send(w, "POST", `/transactions/${txn.id}/cancel`, await w.stepUp(), {
      reason: "requested_by_customer",
      note: TYPED,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assertMasked(res.body.note, "the cancel answer");
    assertMasked((await read(w, `/authorizations/${res.body.id}`)).body.note, "GET");
    await assertKvMasked(w.t.kv, "cancel note");
  });
});

Deno.test("a retry's note is stored masked", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedInsufficientFunds");
    const res = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_visa",
      note: TYPED,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assertMasked(res.body.note, "the retry answer");
    assertMasked((await read(w, `/retries/${res.body.id}`)).body.note, "GET");
    await assertKvMasked(w.t.kv, "retry note");
  });
});

Deno.test("a dispute's note and accept note are stored masked, on a direct accept and one awaiting approval", async () => {
  await withRetryWorld(async (w) => {
    const { dispute } = await disputedPayment(w);
    const noted = await send(w, "POST", `/disputes/${dispute.id}/notes`, authHeaders(w.operator), {
      text: TYPED,
    });
    assert.equal(noted.status, 201, JSON.stringify(noted.body));
    assertMasked(noted.body.notes, "the note answer");
    const accepted = await send(
      w,
      "POST",
      `/disputes/${dispute.id}/accept`,
      otpHeaders(w.t, w.operator),
      {
        note: TYPED,
      },
    );
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    const shown = (await read(w, `/disputes/${dispute.id}`)).body;
    assertMasked(shown.notes, "GET: notes");
    assertMasked(shown.history, "GET: the accept in the history");
    await assertKvMasked(w.t.kv, "dispute notes");

    const big = await disputedPayment(w, 60_000);
    const asked = await send(
      w,
      "POST",
      `/disputes/${big.dispute.id}/accept`,
      otpHeaders(w.t, w.operator),
      {
        note: TYPED,
      },
    );
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    assertMasked(asked.body.approval, "the approval asked for");
    assertMasked((await read(w, `/api/admin/approvals/${asked.body.approval.id}`)).body, "GET");
    await assertKvMasked(w.t.kv, "dispute accept awaiting approval");
  });
});

Deno.test("a refund's note and its rejection note are stored masked", async () => {
  await withRetryWorld(async (w) => {
    const pay = await w.pay(6000);
    const asked = await send(w, "POST", "/refunds", await w.stepUp(), {
      transaction_id: pay.txnId,
      amount: 6000,
      reason: "requested_by_customer",
      note: TYPED,
    });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const rejected = await send(
      w,
      "POST",
      `/refunds/${asked.body.id}/reject`,
      authHeaders(w.operator2),
      {
        note: TYPED,
      },
    );
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    const shown = (await read(w, `/refunds/${asked.body.id}`)).body;
    assertMasked(shown.note, "GET: the refund's note");
    assertMasked(shown.decision_note, "GET: the rejection's note");
    await assertKvMasked(w.t.kv, "refund notes");
  }, { env: { REFUND_APPROVAL_THRESHOLD: "5000" } });
});

Deno.test("a fraud alert refund's note is stored masked", async () => {
  await withRetryWorld(async (w) => {
    const pay = await w.pay(2000);
    const raised = await raiseAlerts(
      raiseDeps(w.t),
      systemContext("test"),
      customerTarget(pay.customer),
      [velocityHit(pay.txnId, new Date(w.clock.now()).toISOString())],
      () => ({}),
    );
    const res = await send(
      w,
      "POST",
      `/fraud/alerts/${raised.alerts[0]}/refunds`,
      await w.stepUp(),
      {
        note: TYPED,
      },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [made] = res.body.results;
    assertMasked((await read(w, `/refunds/${made.refund.id}`)).body.note, "GET: the refund");
    await assertKvMasked(w.t.kv, "fraud alert refund note");
  });
});
