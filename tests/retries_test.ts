/** POST /retries through the app, the emulator and the official SDK: outcomes and refusals. */
import assert from "node:assert/strict";
import { auditEntries, authHeaders, createAdmin, jsonRequest } from "./helpers/identity.ts";
import { RETRIES, withRetryWorld } from "./helpers/retries.ts";

Deno.test("POST /retries: insufficient funds, then success with pm_card_visa, credited once", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedInsufficientFunds");
    const before = await w.t.services.transactions.get(f.txnId);
    assert.equal(before.status, "failed");
    assert.equal(before.decline_code, "insufficient_funds");

    const res = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_visa",
      note: "customer gave another card",
    });
    assert.equal(res.status, 201);
    const r = res.body;
    assert.equal(r.status, "succeeded");
    assert.equal(r.stripe_status, "succeeded");
    assert.equal(r.off_session, true);
    assert.equal(r.requested_payment_method, "pm_card_visa");
    assert.match(String(r.payment_method), /^pm_/);
    assert.notEqual(r.payment_method, "pm_card_visa");
    assert.equal((r.card as { last4: string }).last4, "4242");
    assert.match(String(r.stripe_request_id), /^req_/);
    assert.equal(r.settled_by, "answer");

    // The attached card is the customer's now (attach audited).
    const pm = await w.stripe.paymentMethods.retrieve(String(r.payment_method));
    assert.equal(pm.customer, f.customer);

    const txn = await w.t.services.transactions.get(f.txnId);
    assert.equal(txn.status, "succeeded");
    await w.deliver(); // the webhooks of the retry change nothing more
    const customer = await w.get(`/api/admin/payments/customers/${f.customer}`);
    const balances = customer.body.balances as { currency: string; amount: number }[];
    assert.deepEqual(balances.map((b) => [b.currency, b.amount]), [["usd", 5000]]);

    const charges = await w.charges(f.pi.id);
    assert.equal(charges.filter((c) => c.status === "succeeded").length, 1);
    assert.equal(charges.length, 2); // the decline and the retry

    const audit = await auditEntries(w.t.kv);
    const actions = audit.map((e) => e.action);
    assert.ok(actions.includes("payment_method.attach"));
    assert.ok(actions.includes("retry.create"));
    const settle = audit.find((e) => e.action === "retry.settle" && e.target?.id === r.id);
    assert.ok(settle, "the settlement is audited");
    assert.equal(settle.stripe_request_id, r.stripe_request_id);
    assert.equal(settle.stripe_idempotency_key, `retry:${r.id}`);

    const shown = await w.get(`${RETRIES}/${r.id}`);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.status, "succeeded");
  });
});

Deno.test("POST /retries: a declined retry answers 201 with the decline recorded", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(3000, "pm_card_chargeDeclined");
    const res = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_chargeDeclinedInsufficientFunds",
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.status, "failed");
    assert.equal(res.body.failure_code, "card_declined");
    assert.equal(res.body.decline_code, "insufficient_funds");
    assert.equal(res.body.advice_code, "try_again_later");
    assert.match(String(res.body.failure_message), /insufficient funds/);
    const txn = await w.t.services.transactions.get(f.txnId);
    assert.equal(txn.status, "failed");
    assert.equal(txn.decline_code, "insufficient_funds");
  });
});

Deno.test("POST /retries: a stolen card's payment is refused by policy with no call to Stripe", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedStolenCard");
    const calls = w.emu.requests.total();
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(res.status, 422);
    assert.equal(res.body.code, "retry_refused");
    assert.equal(res.body.reason, "fraud_decline");
    assert.match(String(res.body.detail), /stolen_card/);
    assert.equal(w.emu.requests.total(), calls, "nothing was sent to Stripe");
    const list = await w.get(`${RETRIES}?transaction_id=${f.txnId}`);
    assert.deepEqual(list.body.data, []);
    const denied = (await auditEntries(w.t.kv)).filter((e) =>
      e.action === "retry.create" && e.result === "denied"
    );
    assert.equal(denied.length, 1);
  });
});

Deno.test("POST /retries: a succeeded payment is 409 naming its status; a legacy Charge is 409 saying what to do", async () => {
  await withRetryWorld(async (w) => {
    const paid = await w.pay(2000);
    const res = await w.retry({ transaction_id: paid.txnId, payment_method: "pm_card_visa" });
    assert.equal(res.status, 409);
    assert.equal(res.body.code, "conflict");
    assert.match(String(res.body.detail), /succeeded.*it is paid; nothing to retry/);
    assert.equal(res.body.status, 409);
    assert.equal(res.body.payment_intent_status, "succeeded");

    try {
      await w.stripe.charges.create({
        amount: 1500,
        currency: "usd",
        source: "tok_chargeDeclined",
      });
    } catch { /* declined, as intended */ }
    await w.deliver();
    const page = await w.t.services.transactions.list({ limit: 100 });
    const charge = page.data.find((t) => !t.stripe_payment_intent);
    assert.ok(charge);
    const legacy = await w.retry({ transaction_id: charge.id, payment_method: "pm_card_visa" });
    assert.equal(legacy.status, 409);
    assert.match(String(legacy.body.detail), /Charge cannot be retried/);
    assert.match(String(legacy.body.detail), /pay again/);

    const missing = await w.retry({
      transaction_id: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R",
      payment_method: "pm_card_visa",
    });
    assert.equal(missing.status, 404);
  });
});

Deno.test("POST /retries: pm_card_authenticationRequired fails off session, needs action on session", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(4200, "pm_card_chargeDeclined");
    const off = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_authenticationRequired",
    });
    assert.equal(off.status, 201);
    assert.equal(off.body.status, "failed");
    assert.equal(off.body.decline_code, "authentication_required");
    assert.equal(off.body.off_session, true);

    assert.match(String(off.body.next_step), /bring the customer back/);

    // The customer is back: the same card on session needs their authentication.
    const onSession = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_authenticationRequired",
      off_session: false,
    });
    assert.equal(onSession.status, 201);
    assert.equal(onSession.body.status, "requires_action");
    assert.ok(onSession.body.next_action, "next_action is returned");
    assert.match(String(onSession.body.client_secret), new RegExp(`^${f.pi.id}_secret_`));
    const g = f;
    const txn = await w.t.services.transactions.get(g.txnId);
    assert.equal(txn.status, "requires_action");
    // A payment waiting on its customer is not retried on top.
    const again = await w.retry({ transaction_id: g.txnId, payment_method: "pm_card_visa" });
    assert.equal(again.status, 409);
    assert.match(String(again.body.detail), /requires_action/);
    // and says what to do instead: the attempt waiting on the customer, where to find it
    assert.match(
      String(again.body.detail),
      new RegExp(`waiting for the customer to authenticate.*retries\\?transaction_id=${g.txnId}`),
    );

    // The customer fails the challenge: the attempt fails, and support hears what that means.
    w.emu.authenticate(f.pi.id, "fail");
    await w.deliver();
    const failed = await w.get(`${RETRIES}/${onSession.body.id}`);
    assert.equal(failed.body.status, "failed");
    assert.equal(failed.body.failure_code, "payment_intent_authentication_failure");
    assert.match(String(failed.body.next_step), /did not authenticate/);
    // the transaction's failure is that attempt's, not mixed with the earlier decline's codes
    const txnNow = await w.t.services.transactions.get(f.txnId);
    assert.deepEqual(
      [txnNow.status, txnNow.failure_code, txnNow.decline_code, txnNow.advice_code],
      ["failed", "payment_intent_authentication_failure", null, null],
    );
  });
});

Deno.test("POST /retries: a payment method saved on another customer is 422 payment_method_not_allowed", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const other = await w.stripe.customers.create({ email: "other@example.com" });
    const theirs = await w.stripe.paymentMethods.attach("pm_card_visa", { customer: other.id });
    const res = await w.retry({ transaction_id: f.txnId, payment_method: theirs.id });
    assert.equal(res.status, 422);
    assert.equal(res.body.code, "payment_method_not_allowed");
    // the field, and where to find the customer's own cards, are named
    const errors = res.body.errors as { path: string }[] | undefined;
    assert.equal(errors?.[0]?.path, "body.payment_method", JSON.stringify(res.body));
    assert.match(String(res.body.detail), new RegExp(`/customers/${f.customer}/payment-methods`));
    // audited denied on the payment, as every other refusal of a retry
    const denied = (await auditEntries(w.t.kv)).filter((e) =>
      e.action === "retry.create" && e.result === "denied"
    );
    assert.deepEqual(denied.map((e) => e.target), [{ type: "transaction", id: f.txnId }]);
    assert.equal((await w.charges(f.pi.id)).length, 1, "nothing was charged");
    assert.deepEqual((await w.get(`${RETRIES}?transaction_id=${f.txnId}`)).body.data, []);

    // One saved on the payment's own customer is used as it is.
    const own = await w.stripe.paymentMethods.attach("pm_card_visa", { customer: f.customer });
    const ok = await w.retry({ transaction_id: f.txnId, payment_method: own.id });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.payment_method, own.id);
    assert.equal(ok.body.status, "succeeded");
  });
});

Deno.test("POST /retries needs operator+ and a second factor; GET /retries is viewer+", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const body = { transaction_id: f.txnId, payment_method: "pm_card_visa" };
    const noOtp = await w.t.app.request(
      RETRIES,
      jsonRequest("POST", authHeaders(w.operator), body),
    );
    assert.equal(noOtp.status, 401);
    assert.equal((await noOtp.json()).code, "otp_required");
    const viewer = await createAdmin(w.t, "viewer");
    const denied = await w.retry(body, { as: viewer });
    assert.equal(denied.status, 403);
    assert.equal((await w.get(RETRIES, viewer)).status, 200);
    const bad = await w.retry({ transaction_id: f.txnId, payment_method: "card_4242" });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.code, "validation_failed");
    assert.equal((bad.body.errors as { path: string }[])[0].path, "body.payment_method");
  });
});

Deno.test("GET /customers/{id}/payment-methods lists the saved cards with their last retry (viewer+)", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const saved = await w.stripe.paymentMethods.attach("pm_card_mastercard", {
      customer: f.customer,
    });
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(res.body.status, "succeeded");
    const viewer = await createAdmin(w.t, "viewer");
    const list = await w.get(`/api/admin/payments/customers/${f.customer}/payment-methods`, viewer);
    assert.equal(list.status, 200);
    const data = list.body.data as Record<string, unknown>[];
    const byId = new Map(data.map((pm) => [pm.id, pm]));
    const visa = byId.get(res.body.payment_method);
    assert.ok(visa, "the card attached for the retry is listed");
    assert.equal(visa.brand, "visa");
    assert.equal(visa.last4, "4242");
    assert.equal(typeof visa.exp_month, "number");
    assert.equal(typeof visa.exp_year, "number");
    assert.match(String(visa.fingerprint), /\w+/);
    assert.equal(visa.last_used, res.body.settled_at);
    const mc = byId.get(saved.id);
    assert.ok(mc);
    assert.equal(mc.brand, "mastercard");
    assert.equal(mc.last_used, null);

    const missing = await w.get("/api/admin/payments/customers/cus_nobody/payment-methods");
    assert.equal(missing.status, 404);

    // Stripe rate-limiting is not "no customer": a 503 with when to come back
    w.emu.faults.inject({
      method: "GET",
      path: /\/payment_methods$/,
      kind: "rate_limit",
      times: Infinity,
    });
    const limited = await w.get(`/api/admin/payments/customers/${f.customer}/payment-methods`);
    w.emu.faults.clear();
    assert.equal(limited.status, 503, JSON.stringify(limited.body));
    assert.equal(limited.body.code, "stripe_unavailable");
  });
});

Deno.test("POST /retries while an attempt is in flight: 409 with Retry-After until reconciliation has looked, naming the attempt's full path", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(2500, "pm_card_chargeDeclined");
    w.emu.faults.inject({ method: "POST", path: /\/confirm$/, kind: "act_then_drop" });
    const first = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const id = String(first.body.id);
    const again = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(again.status, 409);
    assert.equal(again.body.retry_id, id);
    assert.match(String(again.body.detail), new RegExp(`GET /api/admin/payments/retries/${id}`));
    // processing until its answer, else until reconciliation looks a minute later (README
    // "Retrying failed payments"): the job's minute and a minute for the job to run
    assert.equal(again.headers.get("retry-after"), "120");
    w.clock.advance(90_000);
    const later = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(later.status, 409);
    assert.equal(later.headers.get("retry-after"), "30", "the time left");
    w.clock.advance(3600_000);
    const stuck = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(stuck.status, 409);
    // still in flight after reconciliation looked: Stripe holds it, looked at again in a minute
    assert.equal(stuck.headers.get("retry-after"), "60");
  });
});
