/**
 * The demo's 1,200.00 payment is there to show a refund waiting for a second
 * person (README, "A first session"); the threshold counts the requester's
 * refunds of 24 h on the payment, its customer or its card (README, "Refund
 * approval policy"). So its card is its own: after the walkthrough's 1,200.00
 * refund, a small refund on another customer's demo payment is sent at once,
 * not held for approval because the seed put most payments on one card.
 */
import assert from "node:assert/strict";
import { statusOf, withRefundWorld } from "./helpers/refunds.ts";
import { seedDemoAccount } from "../services/demo_seed.ts";
import type { Transaction } from "../domain/transaction.ts";
import { AppError } from "../core/errors.ts";

Deno.test("demo seed: the 1,200.00 payment's card is its own; the other payments spread over several cards", async () => {
  await withRefundWorld(async (w) => {
    const summary = await seedDemoAccount(w.t.deps.stripe, w.t.deps.log);
    await w.deliver();
    const succeeded: Transaction[] = [];
    let cursor: string | undefined;
    do {
      const page = await w.t.services.transactions.list({
        limit: 100,
        status: "succeeded",
        ...(cursor ? { cursor } : {}),
      });
      succeeded.push(...page.data);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    assert.equal(succeeded.length, summary.payments);
    const big = succeeded.find((t) => t.amount === 120_000)!;
    assert.ok(big, "the 1,200.00 payment");
    const cardOf = (t: Transaction) => t.payment_method?.fingerprint ?? null;
    const sameCard = succeeded.filter((t) => t !== big && cardOf(t) === cardOf(big));
    assert.deepEqual(sameCard.map((t) => t.amount), [], "no other payment on its card");
    const perCard = new Map<string | null, number>();
    for (const t of succeeded) perCard.set(cardOf(t), (perCard.get(cardOf(t)) ?? 0) + 1);
    const most = Math.max(...perCard.values());
    assert.ok(most <= succeeded.length / 4, `at most a quarter on one card: ${most}`);

    // the walkthrough: the 1,200.00 refund waits; 10.00 on another customer's payment does not
    const ask = (txn: Transaction, amount: number) =>
      w.t.services.refunds.create(w.ctx(w.operator, crypto.randomUUID()), {
        transaction_id: txn.id,
        amount,
        reason: "requested_by_customer",
        note: "demo walkthrough",
      });
    assert.equal(statusOf(await ask(big, 120_000)), 202);
    const others = succeeded.filter((t) =>
      t.customer !== big.customer && t.amount >= 1000 && t.amount < 50_000
    );
    const held = [];
    let sent = 0;
    for (const t of others) {
      try {
        if (statusOf(await ask(t, 1000)) === 202) held.push(t.id);
        sent++;
      } catch (error) {
        // the seeded open dispute's payment: no refund while it is open, whatever the card
        if (!(error instanceof AppError && /dispute .* is open/.test(error.message))) throw error;
      }
      await w.deliver();
    }
    assert.ok(sent >= others.length - 1, `${sent} of ${others.length}`);
    assert.deepEqual(held, [], "no 10.00 refund of another customer waits for approval");
  });
});
