/**
 * The retry policy's rules that need the world around a payment: an open
 * fraud alert on the customer, and Stripe's own lock on a card declined too
 * often (card_decline_rate_limit_exceeded).
 */
import assert from "node:assert/strict";
import { keys } from "../kv/keys.ts";
import { RETRIES, withRetryWorld } from "./helpers/retries.ts";
import { createAdmin } from "./helpers/identity.ts";

Deno.test("POST /retries: a customer with an open fraud alert needs confirm_fraud_alert and a note", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    // An open alert as the fraud service records it (its index of each customer's open alerts).
    await w.t.kv.atomic()
      .set(keys.fraudAlert("fa_TEST"), { id: "fa_TEST", customer: f.customer, status: "open" })
      .set(keys.fraudAlertsByCustomer(f.customer, "fa_TEST"), "fa_TEST")
      .commit();
    const body = { transaction_id: f.txnId, payment_method: "pm_card_visa" };
    const calls = w.emu.requests.total();
    const refused = await w.retry(body);
    assert.equal(refused.status, 422);
    assert.equal(refused.body.reason, "fraud_alert_open");
    // the alert to read or resolve is named, not only "an open fraud alert"
    assert.match(String(refused.body.detail), /fraud alert fa_TEST is open/);
    const noNote = await w.retry({ ...body, confirm_fraud_alert: true });
    assert.equal(noNote.body.reason, "fraud_alert_open");
    // what is missing is named: the note, when confirm_fraud_alert was sent
    assert.match(String(noNote.body.detail), /confirm_fraud_alert came without a note: add one/);
    // and the field to fix, as every other 422 names it
    const noteErrors = noNote.body.errors as { path: string; message: string }[];
    assert.deepEqual(noteErrors.map((e) => e.path), ["body.note"]);
    assert.match(noteErrors[0].message, /why this retry is safe/);
    const blank = await w.retry({ ...body, confirm_fraud_alert: true, note: "  " });
    assert.deepEqual((blank.body.errors as { path: string }[]).map((e) => e.path), ["body.note"]);
    const noConfirm = await w.retry({ ...body, note: "the customer called" });
    assert.equal(noConfirm.body.reason, "fraud_alert_open");
    assert.match(String(noConfirm.body.detail), /send confirm_fraud_alert: true with the note/);
    assert.equal(w.emu.requests.total(), calls, "nothing sent to Stripe");

    const ok = await w.retry({
      ...body,
      confirm_fraud_alert: true,
      note: "called the customer back on the number on file",
    });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.status, "succeeded");
    assert.equal(ok.body.confirm_fraud_alert, true);

    // Once the alert is closed (its index entry gone), no confirmation is needed.
    await w.t.kv.delete(keys.fraudAlertsByCustomer(f.customer, "fa_TEST"));
    const g = await w.failedPayment(1000, "pm_card_chargeDeclined", f.customer);
    const plain = await w.retry({ transaction_id: g.txnId, payment_method: "pm_card_visa" });
    assert.equal(plain.status, 201);
  });
});

Deno.test("POST /retries: Stripe's card_decline_rate_limit_exceeded is recorded, and the card then waits 24 h", async () => {
  await withRetryWorld(async (w) => {
    // One card declined ten times in checkout (other payments): Stripe locks it.
    const customer = (await w.stripe.customers.create({ email: "tries@example.com" })).id;
    const card = await w.stripe.paymentMethods.attach("pm_card_chargeDeclined", { customer });
    const f = await w.failedPayment(1000, card.id, customer);
    for (let i = 0; i < 9; i++) {
      await w.stripe.paymentIntents.create({
        amount: 500,
        currency: "usd",
        customer,
        payment_method: card.id,
        confirm: true,
        off_session: true,
      }).catch(() => null);
    }
    await w.deliver();
    w.clock.advance(3600_000); // past the try_again_later wait of the first decline

    const res = await w.retry({ transaction_id: f.txnId, payment_method: card.id });
    assert.equal(res.status, 201);
    assert.equal(res.body.status, "failed");
    assert.equal(res.body.failure_code, "card_decline_rate_limit_exceeded");
    assert.match(String(res.body.next_step), /24 h/);

    const again = await w.retry({ transaction_id: f.txnId, payment_method: card.id });
    assert.equal(again.status, 422);
    assert.equal(again.body.reason, "card_rate_limited");
    assert.ok(again.body.retry_after);
    const other = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(other.status, 201);
    assert.equal(other.body.status, "succeeded");
    const list = await w.get(`${RETRIES}?transaction_id=${f.txnId}&status=failed`);
    assert.equal((list.body.data as unknown[]).length, 1);
  }, { env: { RETRY_MAX_PER_CARD_PER_DAY: "20" } });
});

Deno.test("a requires_action attempt is settled by the webhook once the customer authenticates (or fails to)", async () => {
  await withRetryWorld(async (w) => {
    for (const outcome of ["succeed", "fail"] as const) {
      const f = await w.failedPayment(3300, "pm_card_chargeDeclined");
      const res = await w.retry({
        transaction_id: f.txnId,
        payment_method: "pm_card_authenticationRequired",
        off_session: false,
      });
      assert.equal(res.body.status, "requires_action");
      const viewer = await createAdmin(w.t, "viewer");
      const seen = await w.get(`${RETRIES}/${res.body.id}`, viewer);
      assert.equal(seen.body.status, "requires_action");
      assert.equal(seen.body.client_secret, null, "a viewer does not get the client secret");
      const op = await w.get(`${RETRIES}/${res.body.id}`);
      assert.equal(op.body.client_secret, res.body.client_secret);
      await w.deliver();
      w.clock.advance(5000);
      w.emu.authenticate(f.pi.id, outcome);
      await w.deliver();
      const r = await w.get(`${RETRIES}/${res.body.id}`);
      const txn = await w.t.services.transactions.get(f.txnId);
      if (outcome === "succeed") {
        assert.equal(r.body.status, "succeeded");
        assert.equal(r.body.client_secret, null, "the secret is forgotten once settled");
        assert.equal(txn.status, "succeeded");
      } else {
        assert.equal(r.body.status, "failed");
        assert.equal(txn.status, "failed");
        // the payment is free for another attempt
        const next = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
        assert.equal(next.body.status, "succeeded");
      }
      assert.equal(r.body.settled_by, "webhook");
    }
  });
});

Deno.test("POST /retries: a retry refused for its card saves nothing on the customer at Stripe", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedInsufficientFunds");
    const saved = async () =>
      (await w.stripe.paymentMethods.list({ customer: f.customer, type: "card" })).data.length;
    assert.equal(await saved(), 0);
    // the same card (same fingerprint, a fresh pm_ from the test id) right after try_again_later
    const refused = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_chargeDeclinedInsufficientFunds",
    });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.reason, "try_again_later");
    assert.equal(await saved(), 0, "was attached before the card's rules ran");
    const denied = (await w.t.services.audit.list({ limit: 20 })).data
      .filter((e) => e.action === "payment_method.attach");
    assert.equal(denied.length, 0);
    // another card goes through, and is saved then
    const ok = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(ok.body.status, "succeeded");
    assert.equal(await saved(), 1);
  });
});

Deno.test("POST /retries: after incorrect_cvc (confirm_card_data) the same card with the same details is refused", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedIncorrectCvc");
    const calls = w.emu.requests.total();
    const same = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_chargeDeclinedIncorrectCvc",
    });
    assert.equal(same.status, 422, JSON.stringify(same.body));
    assert.equal(same.body.reason, "confirm_card_data");
    assert.match(String(same.body.detail), /details again|another card/);
    // the card was read (its fingerprint), nothing was saved or confirmed
    assert.equal(w.emu.requests.total() - calls, 1, "only the read of the payment method");
    const saved = await w.stripe.paymentMethods.list({ customer: f.customer, type: "card" });
    assert.equal(saved.data.length, 0);
    // the customer enters the card again (a new payment method, made after the decline)
    w.clock.advance(60_000);
    const again = await w.stripe.paymentMethods.create({
      type: "card",
      card: { number: "4000000000000127", exp_month: 12, exp_year: 2040, cvc: "123" },
    });
    const retried = await w.retry({ transaction_id: f.txnId, payment_method: again.id });
    assert.equal(retried.status, 201, "new details may be tried: " + JSON.stringify(retried.body));
    // (this test card declines whatever its details) support is told what fixes it
    assert.match(String(retried.body.next_step), /enter them again/);
  });
});
