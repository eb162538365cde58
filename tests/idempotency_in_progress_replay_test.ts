/**
 * A keyed request first answered `202` with its action still in progress (Stripe's answer lost:
 * the emulator's `act_then_drop`), settled since by its webhook or by reconciliation, then sent
 * again with the same key and body: the replay answers the action as it stands (the answer GET
 * gives, in the shape the POST answers), and that settled answer is the key's (README "A first
 * session": "202 processing, then 201 once Stripe's answer, its webhook or reconciliation settled
 * it"; "API", `Idempotency-Key`). Another body under the key stays `422`.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { authHeaders, jsonRequest, otpHeaders, stepUpHeaders } from "./helpers/identity.ts";
import { type RetryWorld, withRetryWorld } from "./helpers/retries.ts";
import { alertOnLargePayment } from "./helpers/fraud_alert_refund.ts";
import { approvalOf, authorizeAtStripe, type RefundWorld } from "./helpers/refunds.ts";
import type { TestAdmin } from "./helpers/identity.ts";
import { keys } from "../kv/keys.ts";
import { sha256Hex } from "../core/encoding.ts";

const PAYMENTS = "/api/admin/payments";

interface Answer {
  status: number;
  replayed: string | null;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** POST `path` as `as` with a step-up token and the Idempotency-Key `key`. */
async function post(
  w: RefundWorld,
  as: TestAdmin,
  path: string,
  key: string,
  body: unknown,
): Promise<Answer> {
  const headers = { ...await stepUpHeaders(w.t, as), "idempotency-key": key };
  const res = await w.t.app.request(`${PAYMENTS}${path}`, jsonRequest("POST", headers, body));
  return {
    status: res.status,
    replayed: res.headers.get("idempotent-replayed"),
    body: await res.json(),
  };
}

// deno-lint-ignore no-explicit-any
async function get(w: RefundWorld, path: string): Promise<any> {
  const res = await w.t.app.request(`${PAYMENTS}${path}`, { headers: authHeaders(w.operator) });
  assert.equal(res.status, 200);
  return await res.json();
}

/** Settles what is in progress by its webhooks, or by reconciliation with the webhooks lost. */
async function settle(w: RetryWorld, by: "webhook" | "reconciliation") {
  if (by === "webhook") {
    assert.ok(await w.deliver() > 0, "the emulator sent the action's webhooks");
    return;
  }
  await w.dropHeld();
  w.clock.advance(61_000);
  await w.runAllJobs();
}

for (const by of ["webhook", "reconciliation"] as const) {
  Deno.test(`POST /refunds answered 202 processing, settled by its ${by}, then resent with its key: 201 as it stands, and that is the key's answer`, async () => {
    await withRetryWorld(async (w) => {
      const pay = await w.pay(5000);
      const body = { transaction_id: pay.txnId, amount: 1500, reason: "duplicate", note: "n" };
      w.emu.faults.inject({ kind: "act_then_drop", method: "POST", path: "/v1/refunds" });
      const first = await post(w, w.operator, "/refunds", "rdrop-1", body);
      assert.equal(first.status, 202);
      assert.equal(first.body.status, "processing");
      assert.equal(first.body.stripe_refund, null);

      // sent again before it settles: still 202 processing, replayed
      const early = await post(w, w.operator, "/refunds", "rdrop-1", body);
      assert.equal(early.status, 202);
      assert.equal(early.replayed, "true");
      assert.equal(early.body.status, "processing");

      await settle(w, by);
      const shown = await get(w, `/refunds/${first.body.id}`);
      assert.equal(shown.status, "succeeded");
      assert.match(String(shown.stripe_refund), /^re_/);

      const again = await post(w, w.operator, "/refunds", "rdrop-1", body);
      assert.equal(again.status, 201);
      assert.equal(again.replayed, "true");
      assert.equal(again.body.id, first.body.id);
      assert.equal(again.body.status, "succeeded");
      assert.equal(again.body.stripe_refund, shown.stripe_refund);
      assert.deepEqual(again.body.history, shown.history);

      // the settled answer is the key's now: kept under it, the same again, nothing sent to Stripe
      const kept = await w.t.kv.get<{ response: { body: { status: string } } }>(
        keys.idempotencyKey(w.operator.id, "POST /refunds", sha256Hex("rdrop-1")),
      );
      assert.equal(kept.value?.response.body.status, "succeeded");
      const calls = w.emu.requests.total();
      const later = await post(w, w.operator, "/refunds", "rdrop-1", body);
      assert.equal(later.status, 201);
      assert.equal(later.replayed, "true");
      assert.deepEqual(later.body.status, "succeeded");
      assert.equal(w.emu.requests.total(), calls);
      assert.equal((await w.stripe.refunds.list({ payment_intent: pay.pi.id })).data.length, 1);

      // another body under the key is still refused
      const other = await post(w, w.operator, "/refunds", "rdrop-1", { ...body, amount: 1400 });
      assert.equal(other.status, 422);
      assert.equal(other.body.code, "idempotency_key_reused");
    });
  });
}

Deno.test("POST /retries answered 202 processing, settled by its webhook, then resent with its key: 201 succeeded as it stands", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(2500, "pm_card_chargeDeclined");
    const body = { transaction_id: f.txnId, payment_method: "pm_card_visa" };
    w.emu.faults.inject({ method: "POST", path: /\/confirm$/, kind: "act_then_drop" });
    const first = await w.retry(body, { idempotencyKey: "drop-1" });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    assert.equal(first.body.status, "processing");

    await settle(w, "webhook");
    const shown = await w.get(`${PAYMENTS}/retries/${first.body.id}`);
    assert.equal(shown.body.status, "succeeded");

    const again = await w.retry(body, { idempotencyKey: "drop-1" });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.body.status, "succeeded");
    assert.deepEqual(again.body, shown.body);
    assert.equal((await w.charges(f.pi.id)).filter((c) => c.paid).length, 1, "charged once");

    const other = await w.retry({ ...body, note: "other" }, { idempotencyKey: "drop-1" });
    assert.equal(other.status, 422);
    assert.equal(other.body.code, "idempotency_key_reused");
  });
});

Deno.test("POST /retries answered 202 processing, settled by reconciliation, then resent with its key: 201 as it stands", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(2500, "pm_card_chargeDeclined");
    const body = { transaction_id: f.txnId, payment_method: "pm_card_visa" };
    w.emu.faults.inject({ method: "POST", path: /\/confirm$/, kind: "act_then_drop" });
    const first = await w.retry(body, { idempotencyKey: "drop-2" });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    await settle(w, "reconciliation");
    const shown = await w.get(`${PAYMENTS}/retries/${first.body.id}`);
    assert.equal(shown.body.status, "succeeded");
    const again = await w.retry(body, { idempotencyKey: "drop-2" });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(again.body, shown.body);
  });
});

Deno.test("POST /refunds/{id}/approve answered 202 processing, settled by reconciliation, then resent with its key: 200 as it stands", async () => {
  await withRetryWorld(async (w) => {
    const pay = await w.pay(9000);
    const asked = await post(w, w.operator, "/refunds", "ask-1", {
      transaction_id: pay.txnId,
      amount: 6000,
      reason: "requested_by_customer",
      note: "n",
    });
    assert.equal(asked.body.status, "awaiting_approval");
    const read = await approvalOf(w.t, asked.body.id);
    w.emu.faults.inject({ kind: "act_then_drop", method: "POST", path: "/v1/refunds" });
    const path = `/refunds/${asked.body.id}/approve`;
    const first = await post(w, w.admin, path, "approve-drop", read);
    assert.equal(first.status, 202);
    assert.equal(first.body.status, "processing");

    await settle(w, "reconciliation");
    const shown = await get(w, `/refunds/${asked.body.id}`);
    assert.equal(shown.status, "succeeded");

    const again = await post(w, w.admin, path, "approve-drop", read);
    assert.equal(again.status, 200);
    assert.equal(again.replayed, "true");
    assert.equal(again.body.status, "succeeded");
    assert.equal(again.body.stripe_refund, shown.stripe_refund);
    assert.equal((await w.stripe.refunds.list({ payment_intent: pay.pi.id })).data.length, 1);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "5000" } });
});

Deno.test("POST /approvals/{id}/approve of a refund answered 202 processing, settled by its webhook, then resent with its key: 200 as it stands", async () => {
  await withRetryWorld(async (w) => {
    const pay = await w.pay(9000);
    const asked = await post(w, w.operator, "/refunds", "ask-2", {
      transaction_id: pay.txnId,
      amount: 6000,
      reason: "requested_by_customer",
      note: "n",
    });
    assert.equal(asked.body.status, "awaiting_approval");
    const read = await approvalOf(w.t, asked.body.id);
    w.emu.faults.inject({ kind: "act_then_drop", method: "POST", path: "/v1/refunds" });
    const send = async () => {
      const headers = { ...await stepUpHeaders(w.t, w.admin), "idempotency-key": "queue-drop" };
      const res = await w.t.app.request(
        `/api/admin/approvals/${asked.body.id}/approve`,
        jsonRequest("POST", headers, read),
      );
      return { status: res.status, body: await res.json() };
    };
    const first = await send();
    assert.equal(first.status, 202, JSON.stringify(first.body));
    assert.equal(first.body.outcome.status, "processing");

    await settle(w, "webhook");
    const shown = await get(w, `/refunds/${asked.body.id}`);
    assert.equal(shown.status, "succeeded");

    const again = await send();
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.replayed, true);
    assert.equal(again.body.outcome.status, "succeeded");
    assert.equal(again.body.outcome.stripe_refund, shown.stripe_refund);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "5000" } });
});

async function authorized(w: RetryWorld, amount: number) {
  const { pi } = await authorizeAtStripe(w.stripe, amount, "hold@example.com");
  await w.deliver();
  return { pi, txnId: (await w.t.services.transactions.get(pi.id)).id };
}

for (
  const [kind, body] of [
    ["capture", { amount_to_capture: 1000 }],
    ["cancel", { reason: "requested_by_customer", note: "customer changed their mind" }],
  ] as const
) {
  Deno.test(`POST /transactions/{id}/${kind} answered 202 processing, settled by reconciliation, then resent with its key: 201 as it stands`, async () => {
    await withRetryWorld(async (w) => {
      const a = await authorized(w, 5000);
      w.emu.faults.inject({ method: "POST", path: new RegExp(`/${kind}$`), kind: "act_then_drop" });
      const path = `/transactions/${a.txnId}/${kind}`;
      const first = await post(w, w.operator, path, `${kind}-drop`, body);
      assert.equal(first.status, 202, JSON.stringify(first.body));
      assert.equal(first.body.status, "processing");

      await settle(w, "reconciliation");
      const shown = await get(w, `/authorizations/${first.body.id}`);
      assert.equal(shown.status, "succeeded");

      const again = await post(w, w.operator, path, `${kind}-drop`, body);
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.equal(again.replayed, "true");
      assert.deepEqual(again.body, shown);
      const pi: Stripe.PaymentIntent = await w.stripe.paymentIntents.retrieve(a.pi.id);
      assert.equal(pi.status, kind === "capture" ? "succeeded" : "canceled");
    });
  });
}

Deno.test("POST /fraud/alerts/{id}/refunds with a refund answered 202 processing, settled by its webhook, then resent with its key: the refund as it stands", async () => {
  await withRetryWorld(async (w) => {
    const { id } = await alertOnLargePayment(w);
    w.emu.faults.inject({ kind: "act_then_drop", method: "POST", path: "/v1/refunds" });
    const send = async () => {
      const headers = { ...otpHeaders(w.t, w.admin), "idempotency-key": "alert-drop" };
      const res = await w.t.app.request(
        `${PAYMENTS}/fraud/alerts/${id}/refunds`,
        jsonRequest("POST", headers, { note: "stolen card burst" }),
      );
      return {
        status: res.status,
        replayed: res.headers.get("idempotent-replayed"),
        body: await res.json(),
      };
    };
    const first = await send();
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.results[0].status, 202);
    assert.equal(first.body.results[0].refund.status, "processing");
    const refundId = first.body.results[0].refund.id;

    await settle(w, "webhook");
    const shown = await get(w, `/refunds/${refundId}`);
    assert.equal(shown.status, "succeeded");

    const again = await send();
    assert.equal(again.status, 200);
    assert.equal(again.replayed, "true");
    assert.equal(again.body.results[0].status, 201);
    assert.equal(again.body.results[0].refund.status, "succeeded");
    assert.equal(again.body.results[0].refund.stripe_refund, shown.stripe_refund);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "100000" } });
});
