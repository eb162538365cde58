/**
 * Retries move money at most once: the webhook racing the answer, a lost
 * answer settled by reconciliation or the webhook without a second confirm,
 * caps under a parallel burst, and the client's Idempotency-Key.
 */
import assert from "node:assert/strict";
import { allLedgerEntries } from "../kv/customers.ts";
import { listJobs } from "../kv/jobs.ts";
import { getRetryState } from "../kv/retries.ts";
import { RETRIES, withRetryWorld } from "./helpers/retries.ts";

type World = Parameters<Parameters<typeof withRetryWorld>[0]>[0];
type ConfirmFault = Omit<Parameters<World["emu"]["faults"]["inject"]>[0], "method" | "path">;

/** The attempt `id` succeeded, settled by reconciliation. */
async function assertSettledByReconcile(w: World, id: unknown) {
  const r = await w.get(`${RETRIES}/${id}`);
  assert.equal(r.body.status, "succeeded");
  assert.equal(r.body.settled_by, "reconcile");
  return r;
}

/** A declined 50.00 payment retried with the visa while its confirm meets `fault`: answered 202. */
async function retryThroughFault(w: World, fault: ConfirmFault) {
  const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
  w.emu.faults.inject({ method: "POST", path: /\/confirm$/, ...fault });
  const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
  assert.equal(res.status, 202);
  return { f, res };
}

Deno.test("a retry racing its payment_intent.succeeded webhook credits the customer once", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclinedInsufficientFunds");
    // The webhooks of the retry arrive after Stripe answered, before the answer is settled.
    w.t.services.retries.hooks.afterStripeCall = async () => {
      assert.ok((await w.deliver()) > 0, "the retry's webhooks were delivered first");
    };
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(res.status, 201);
    assert.equal(res.body.status, "succeeded");
    assert.equal(res.body.settled_by, "webhook");
    w.t.services.retries.hooks.afterStripeCall = undefined;
    await w.deliver();

    const ledger = await allLedgerEntries(w.t.kv, f.customer);
    const payments = ledger.filter((e) => e.type === "payment");
    assert.deepEqual(payments.map((e) => e.amount), [5000]);
    const txn = await w.t.services.transactions.get(f.txnId);
    assert.equal(txn.status, "succeeded");
    const settles = (await w.t.services.audit.list({ limit: 100, action: "retry.settle" })).data;
    assert.equal(settles.length, 1, "settled once");
  });
});

Deno.test("a lost answer is settled by reconciliation reading the PaymentIntent, never a second confirm", async () => {
  await withRetryWorld(async (w) => {
    const { f, res } = await retryThroughFault(w, { kind: "act_then_drop" });
    assert.equal(res.body.status, "processing");
    await w.dropHeld(); // Stripe's webhooks never arrive either

    // A second retry while the first is in flight is refused, naming who sent the first and when
    // ("you" to whoever did: README "Retrying failed payments").
    const second = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_mastercard" });
    assert.equal(second.status, 409);
    const since = String(res.body.created_at);
    assert.match(
      String(second.body.detail),
      new RegExp(`by you \\(${w.operator.id}\\) at ${since}`),
    );
    const other = await w.retry(
      { transaction_id: f.txnId, payment_method: "pm_card_mastercard" },
      { as: w.admin },
    );
    assert.equal(other.status, 409);
    assert.match(String(other.body.detail), new RegExp(`by ${w.operator.id} at ${since}`));

    w.clock.advance(61_000);
    await w.runAllJobs();
    await assertSettledByReconcile(w, res.body.id);
    const charges = await w.charges(f.pi.id);
    assert.equal(charges.length, 2, "the decline and ONE retry");
    assert.equal(charges.filter((c) => c.status === "succeeded").length, 1);
    assert.equal((await w.t.services.transactions.get(f.txnId)).status, "succeeded");
    const ledger = await allLedgerEntries(w.t.kv, f.customer);
    assert.deepEqual(ledger.filter((e) => e.type === "payment").map((e) => e.amount), [5000]);
    assert.equal((await listJobs(w.t.kv)).filter((j) => j.kind === "retry.reconcile").length, 0);
  });
});

Deno.test("a lost answer is settled by the webhook when it comes first", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(2500, "pm_card_chargeDeclined");
    w.emu.faults.inject({ method: "POST", path: /\/confirm$/, kind: "act_then_drop" });
    const res = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_chargeDeclinedInsufficientFunds",
    });
    assert.equal(res.body.status, "processing");
    await w.deliver();
    const r = await w.get(`${RETRIES}/${res.body.id}`);
    assert.equal(r.body.status, "failed");
    assert.equal(r.body.settled_by, "webhook");
    assert.equal(r.body.decline_code, "insufficient_funds");
    // reconciliation later finds nothing to do
    w.clock.advance(61_000);
    assert.deepEqual(await w.t.services.retries.reconcile(), {
      settled: 0,
      not_received: 0,
      unknown: 0,
      waiting: 0,
      authorizations: 0,
    });
  });
});

Deno.test("a confirm Stripe never received is sent again by reconciliation with the same key: charged once", async () => {
  await withRetryWorld(async (w) => {
    const { f, res } = await retryThroughFault(w, { kind: "server_error" });
    w.clock.advance(61_000);
    const summary = await w.t.services.retries.reconcile();
    assert.deepEqual([summary.settled, summary.not_received], [1, 0]);
    const r = await assertSettledByReconcile(w, res.body.id);
    const charges = await w.charges(f.pi.id);
    assert.equal(charges.length, 2, "the decline and the one confirm Stripe ran");
    assert.equal(r.body.stripe_charge, charges.find((c) => c.status === "succeeded")?.id);
    // the same confirm once more replays the answer: no second charge
    w.clock.advance(61_000);
    assert.equal((await w.t.services.retries.reconcile()).settled, 0);
    assert.equal((await w.charges(f.pi.id)).length, 2);
  });
});

Deno.test("the same Idempotency-Key replays the first answer; a different body is refused", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const body = { transaction_id: f.txnId, payment_method: "pm_card_visa" };
    const first = await w.retry(body, { idempotencyKey: "retry-key-1" });
    assert.equal(first.status, 201);
    const again = await w.retry(body, { idempotencyKey: "retry-key-1" });
    assert.equal(again.status, 201);
    assert.deepEqual(again.body, first.body);
    const other = await w.retry({ ...body, note: "changed" }, { idempotencyKey: "retry-key-1" });
    assert.equal(other.status, 422);
    assert.equal(other.body.code, "idempotency_key_reused");
    assert.equal((await w.charges(f.pi.id)).length, 2);
    const list = await w.get(`${RETRIES}?transaction_id=${f.txnId}`);
    assert.equal((list.body.data as unknown[]).length, 1);
  });
});

Deno.test("attempt caps: RETRY_MAX_ATTEMPTS per payment, RETRY_MAX_PER_CARD_PER_DAY per card, under a burst", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    // Three declined retries with cards allowed by the policy, then the cap.
    const a = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_chargeDeclinedInsufficientFunds",
    });
    assert.equal(a.body.status, "failed");
    const b = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_authenticationRequired",
    });
    assert.equal(b.body.status, "failed");
    w.clock.advance(3600_000);
    const c = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_chargeDeclined" });
    assert.equal(c.body.status, "failed");
    const d = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    assert.equal(d.status, 422);
    assert.equal(d.body.reason, "max_attempts");
  }, { env: { RETRY_MAX_ATTEMPTS: "3" } });

  await withRetryWorld(async (w) => {
    // Five payments failed; a parallel burst retries each with the same card: only the cap passes.
    const failed = [];
    for (let i = 0; i < 4; i++) {
      failed.push(await w.failedPayment(1000 + i, "pm_card_chargeDeclined"));
    }
    const own = await Promise.all(
      failed.map((f) =>
        w.stripe.paymentMethods.create({ type: "card", card: { number: "4242424242424242" } }).then(
          (pm) => w.stripe.paymentMethods.attach(pm.id, { customer: f.customer }),
        )
      ),
    );
    await w.stepUp();
    const results = await Promise.all(
      failed.map((f, i) => w.retry({ transaction_id: f.txnId, payment_method: own[i].id })),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 201, 422, 422]);
    for (const r of results.filter((r) => r.status === 422)) {
      assert.equal(r.body.reason, "card_daily_cap");
      assert.ok(r.body.retry_after);
    }
    w.clock.advance(24 * 3600_000 + 1000);
    const later = failed.find((_, i) => results[i].status === 422)!;
    const idx = failed.indexOf(later);
    const ok = await w.retry({ transaction_id: later.txnId, payment_method: own[idx].id });
    assert.equal(ok.status, 201);
  }, { env: { RETRY_MAX_PER_CARD_PER_DAY: "2" } });
});

Deno.test("a burst of retries of one payment (the double click) charges it once", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    await w.stepUp();
    const results = await Promise.all(
      ["pm_card_visa", "pm_card_visa", "pm_card_mastercard"].map((pm) =>
        w.retry({ transaction_id: f.txnId, payment_method: pm })
      ),
    );
    const created = results.filter((r) => r.status === 201);
    assert.equal(created.length, 1, JSON.stringify(results.map((r) => r.status)));
    assert.equal(created[0].body.status, "succeeded");
    for (const r of results.filter((r) => r.status !== 201)) {
      assert.equal(r.status, 409);
      assert.match(String(r.body.detail), /in flight|succeeded/);
    }
    const charges = await w.charges(f.pi.id);
    assert.equal(charges.filter((c) => c.status === "succeeded").length, 1);
    await w.deliver();
    const ledger = await allLedgerEntries(w.t.kv, f.customer);
    assert.deepEqual(ledger.filter((e) => e.type === "payment").map((e) => e.amount), [5000]);
  });
});

Deno.test("GET /retries filters by transaction_id and status, newest first, with pages", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    const g = await w.failedPayment(2000, "pm_card_chargeDeclined");
    const a = await w.retry({
      transaction_id: f.txnId,
      payment_method: "pm_card_chargeDeclinedInsufficientFunds",
    });
    const b = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    const c = await w.retry({ transaction_id: g.txnId, payment_method: "pm_card_visa" });
    const ids = (path: string) =>
      w.get(path).then((r) => (r.body.data as { id: string }[]).map((x) => x.id));
    assert.deepEqual(await ids(RETRIES), [c.body.id, b.body.id, a.body.id]);
    assert.deepEqual(await ids(`${RETRIES}?transaction_id=${f.txnId}`), [b.body.id, a.body.id]);
    assert.deepEqual(await ids(`${RETRIES}?status=failed`), [a.body.id]);
    assert.deepEqual(await ids(`${RETRIES}?status=succeeded&transaction_id=${g.txnId}`), [
      c.body.id,
    ]);
    const page1 = await w.get(`${RETRIES}?limit=2`);
    assert.equal((page1.body.data as unknown[]).length, 2);
    const page2 = await w.get(`${RETRIES}?limit=2&cursor=${page1.body.next_cursor}`);
    assert.deepEqual((page2.body.data as { id: string }[]).map((x) => x.id), [a.body.id]);
    const bad = await w.get(`${RETRIES}?status=done`);
    assert.equal(bad.status, 422);
    assert.equal((await w.get(`${RETRIES}/rty_01JD3Y8Z6QKQ2X5N7S9V4W1T0R`)).status, 404);
  });
});

Deno.test("after an unknown outcome, a confirm sent again and answered 429 proves nothing: processing and counted until Stripe answers", async () => {
  await withRetryWorld(async (w) => {
    // a 500 (Stripe may have acted), then reconciliation's confirm meets 429s
    const { f, res } = await retryThroughFault(w, { kind: "server_error" });
    w.emu.faults.inject({ method: "POST", path: /\/confirm$/, kind: "rate_limit", times: 3 });
    w.clock.advance(61_000);
    assert.equal((await w.t.services.retries.reconcile()).unknown, 1);
    assert.equal((await w.get(`${RETRIES}/${res.body.id}`)).body.status, "processing");
    assert.equal((await getRetryState(w.t.kv, f.txnId)).value?.attempts, 1, "still counted");
    w.clock.advance(61_000);
    await w.t.services.retries.reconcile();
    await assertSettledByReconcile(w, res.body.id);
    const charges = await w.charges(f.pi.id);
    assert.equal(charges.filter((c) => c.status === "succeeded").length, 1);
  });
});

Deno.test("a failure after Stripe charged (before the second commit) answers 202, never 500, and reconciliation settles it", async () => {
  await withRetryWorld(async (w) => {
    const f = await w.failedPayment(5000, "pm_card_chargeDeclined");
    w.t.services.retries.hooks.afterStripeCall = () => {
      throw new Error("the KV store went away");
    };
    const res = await w.retry({ transaction_id: f.txnId, payment_method: "pm_card_visa" });
    w.t.services.retries.hooks.afterStripeCall = undefined;
    assert.equal(res.status, 202);
    assert.equal(res.body.status, "processing");
    await w.dropHeld();
    w.clock.advance(61_000);
    await w.runAllJobs();
    await assertSettledByReconcile(w, res.body.id);
    assert.equal((await w.charges(f.pi.id)).filter((c) => c.status === "succeeded").length, 1);
    const ledger = await allLedgerEntries(w.t.kv, f.customer);
    assert.deepEqual(ledger.filter((e) => e.type === "payment").map((e) => e.amount), [5000]);
  });
});
