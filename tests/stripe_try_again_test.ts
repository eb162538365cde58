/**
 * Unknown stays unknown: an answer that says "try again" (429, `lock_timeout`,
 * 503) is neither a refusal nor a result. The operation stays `processing`
 * for reconciliation, the client's Idempotency-Key does not keep it, and an
 * operation whose earlier attempt had an unknown outcome is looked up at
 * Stripe before it is released.
 */
import assert from "node:assert/strict";
import { AppError } from "../core/errors.ts";
import { ManualClock } from "../core/clock.ts";
import { runIdempotent } from "../kv/idempotency.ts";
import { settleAttempt, type StripeAttempt } from "../services/stripe/mod.ts";
import { statusOf, stripeRefunds, withRefundWorld } from "./helpers/refunds.ts";
import type { RefundWorld } from "./helpers/refunds.ts";

function ask(w: RefundWorld, txnId: string, amount: number, key?: string) {
  return w.t.services.refunds.create(w.ctx(w.operator, key), {
    transaction_id: txnId,
    amount,
    reason: "requested_by_customer",
    note: "customer asked",
    confirm_duplicate: true,
  });
}

Deno.test("refundService.create(): a 429 left after the gateway's retries keeps the refund processing, and reconciliation sends it", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    w.emu.faults.inject({ kind: "rate_limit", method: "POST", path: "/v1/refunds", times: 3 });
    const res = await ask(w, pay.txnId, 1000, "key-429");
    assert.equal(statusOf(res), 202);
    assert.equal(res.refund.status, "processing", "never failed for a rate limit");
    let txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_reserved, 1000);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);

    w.clock.advance(61_000);
    await w.runJobs();
    assert.equal((await w.t.services.refunds.get(res.refund.id)).status, "succeeded");
    await w.deliver();
    txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_refunded, 1000);
    assert.equal(txn.amount_reserved, 0);
    const again = await ask(w, pay.txnId, 1000, "key-429");
    assert.equal(again.refund.id, res.refund.id, "the key answers with the same refund");
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 1);
  });
});

Deno.test("refund reconciliation: a lock_timeout after an unknown outcome never releases the refund", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    // a 500: Stripe may or may not have acted
    w.emu.faults.inject({ kind: "server_error", method: "POST", path: "/v1/refunds" });
    const res = await ask(w, pay.txnId, 1500);
    assert.equal(res.refund.status, "processing");
    w.emu.faults.inject({ kind: "lock_timeout", method: "POST", path: "/v1/refunds", times: 3 });
    w.clock.advance(61_000);
    await w.runJobs();
    const still = await w.t.services.refunds.get(res.refund.id);
    assert.equal(
      still.status,
      "processing",
      `a lock_timeout is no refusal: ${JSON.stringify(still.history)}`,
    );
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 1500);
    // a second request cannot take the money Stripe may have sent
    await assert.rejects(ask(w, pay.txnId, 5000), (e) => {
      assert.ok(e instanceof AppError);
      assert.equal(e.code, "amount_exceeds_refundable");
      return true;
    });
    w.clock.advance(3600_000);
    await w.runJobs();
    assert.equal((await w.t.services.refunds.get(res.refund.id)).status, "succeeded");
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).amount_refunded, 1500);
  });
});

Deno.test("runIdempotent(): a 'try again' answer is not kept against the key; other answers are", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const clock = new ManualClock(Date.UTC(2026, 10, 26, 9));
    const scope = { owner: "adm_1", route: "POST /things", key: "k" };
    let runs = 0, resumes = 0;
    const failing = (code: "stripe_unavailable" | "rate_limited" | "stripe_error") => ({
      async run(binding: Parameters<Parameters<typeof runIdempotent>[4]["run"]>[0]) {
        runs++;
        const op = kv.atomic();
        await binding?.bind(op, "thing_1");
        await op.commit();
        throw new AppError(code, "Stripe says: try again");
      },
      resume: () => {
        resumes++;
        return Promise.resolve({ body: { id: "thing_1" } });
      },
    });
    for (const code of ["stripe_unavailable", "rate_limited"] as const) {
      const s = { ...scope, key: code };
      await assert.rejects(runIdempotent(kv, clock, s, "fp", failing(code)));
      const again = await runIdempotent(kv, clock, s, "fp", failing(code));
      assert.deepEqual(again.body, { id: "thing_1" }, `${code}: the same key proceeds`);
    }
    assert.equal(runs, 2);
    assert.equal(resumes, 2);
    const s = { ...scope, key: "refused" };
    await assert.rejects(runIdempotent(kv, clock, s, "fp", failing("stripe_error")));
    await assert.rejects(runIdempotent(kv, clock, s, "fp", failing("stripe_error")), (e) => {
      assert.ok(e instanceof AppError);
      assert.equal(e.code, "stripe_error", "a refusal replays");
      return true;
    });
    assert.equal(runs, 3);
  } finally {
    kv.close();
  }
});

Deno.test("settleAttempt(): a refusal after an unknown outcome is looked up at Stripe before releasing", async () => {
  const refused: StripeAttempt<string> = {
    kind: "refused",
    error: new AppError("stripe_error", "Stripe refused the request"),
  };
  const calls: string[] = [];
  const handlers = (found: string | null) => ({
    lookup: () => {
      calls.push("lookup");
      return Promise.resolve(found);
    },
    settle: (v: string) => Promise.resolve(`settled ${v}`),
    release: (e: AppError) => Promise.resolve(`released (${e.code})`),
    pending: () => "pending",
  });
  assert.equal(
    await settleAttempt(refused, { earlierUnknown: true, ...handlers("re_1") }),
    "settled re_1",
  );
  assert.equal(
    await settleAttempt(refused, { earlierUnknown: true, ...handlers(null) }),
    "released (stripe_error)",
  );
  assert.equal(
    await settleAttempt(refused, { earlierUnknown: false, ...handlers("re_1") }),
    "released (stripe_error)",
  );
  assert.deepEqual(calls, ["lookup", "lookup"]);
  const later: StripeAttempt<string> = {
    kind: "try_again",
    error: new AppError("stripe_unavailable", "rate limited"),
  };
  assert.equal(await settleAttempt(later, { earlierUnknown: true, ...handlers(null) }), "pending");
  const answered: StripeAttempt<string> = { kind: "answered", value: "re_2" };
  assert.equal(
    await settleAttempt(answered, { earlierUnknown: false, ...handlers(null) }),
    "settled re_2",
  );
});

Deno.test("runIdempotent(): a record closed without anything done (resume answers null) lets the key run afresh", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const clock = new ManualClock(Date.UTC(2026, 10, 26, 9));
    const scope = { owner: "adm_1", route: "POST /things", key: "k" };
    const made: string[] = [];
    const work = {
      async run(binding: Parameters<Parameters<typeof runIdempotent>[4]["run"]>[0]) {
        const id = `thing_${made.length + 1}`;
        made.push(id);
        const op = kv.atomic();
        await binding?.bind(op, id);
        await op.commit();
        if (made.length === 1) throw new AppError("stripe_unavailable", "Stripe did nothing");
        return { body: { id } };
      },
      // thing_1 was closed as not done; any other is answered from its record
      resume: (id: string) => Promise.resolve(id === "thing_1" ? null : { body: { id } }),
    };
    await assert.rejects(runIdempotent(kv, clock, scope, "fp", work));
    const again = await runIdempotent(kv, clock, scope, "fp", work);
    assert.deepEqual([again.body, again.replayed], [{ id: "thing_2" }, false]);
    const replay = await runIdempotent(kv, clock, scope, "fp", work);
    assert.deepEqual([replay.body, replay.replayed], [{ id: "thing_2" }, true]);
    assert.deepEqual(made, ["thing_1", "thing_2"]);
  } finally {
    kv.close();
  }
});

Deno.test("runIdempotent(): a resume that acts (`acted`) is no replay; one that only reads, and the stored answer, are", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const clock = new ManualClock(Date.UTC(2026, 10, 26, 9));
    const scope = { owner: "adm_1", route: "POST /things", key: "k" };
    const work = (acted: boolean) => ({
      async run(binding: Parameters<Parameters<typeof runIdempotent>[4]["run"]>[0]) {
        const op = kv.atomic();
        await binding?.bind(op, "thing_1");
        await op.commit();
        throw new AppError("stripe_unavailable", "the answer was lost; send it again");
      },
      resume: (id: string) => Promise.resolve({ body: { id }, acted }),
    });
    for (const acted of [true, false]) {
      const s = { ...scope, key: `acted-${acted}` };
      await assert.rejects(runIdempotent(kv, clock, s, "fp", work(acted)));
      const resumed = await runIdempotent(kv, clock, s, "fp", work(acted));
      assert.deepEqual([resumed.body, resumed.replayed], [{ id: "thing_1" }, !acted]);
      assert.equal("acted" in resumed, false, "`acted` is not part of the answer");
      const stored = await runIdempotent(kv, clock, s, "fp", work(acted));
      assert.deepEqual([stored.body, stored.replayed], [{ id: "thing_1" }, true]);
    }
  } finally {
    kv.close();
  }
});
