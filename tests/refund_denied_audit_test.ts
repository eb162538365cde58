/**
 * The audit log records denied attempts too (README, "A first session"): a
 * refund refused as a decision about money (more than is refundable, an open
 * chargeback, a suspected duplicate, an Idempotency-Key reused with another
 * body, a payment that is not refundable), and an approval or rejection of a
 * refund already decided or expired, each leave a `denied` entry. A malformed
 * body or an unknown id does not (nothing was decided).
 */
import assert from "node:assert/strict";
import { AppError } from "../core/errors.ts";
import { approvalOf, askRefund, authorizeAtStripe, withRefundWorld } from "./helpers/refunds.ts";
import type { RefundWorld } from "./helpers/refunds.ts";
import { auditEntries } from "./helpers/identity.ts";
import type { CreateRefundInput } from "../services/refunds/service.ts";

async function denials(w: RefundWorld) {
  return (await auditEntries(w.t.kv)).filter((e) => e.result === "denied");
}

async function refused(p: Promise<unknown>): Promise<AppError> {
  const e = await p.then(() => null, (e) => e);
  assert.ok(e instanceof AppError, `expected a refusal, got ${e}`);
  return e;
}

Deno.test("refused refund requests are audited denied, naming the refusal", async () => {
  await withRefundWorld(async (w) => {
    const create = (input: Partial<CreateRefundInput>, key?: string) =>
      w.t.services.refunds.create(w.ctx(w.operator, key), {
        transaction_id: "",
        reason: "requested_by_customer",
        note: "n",
        ...input,
      });
    const pay = await w.pay(3000);
    const disputed = await w.pay(2500, "pm_card_createDispute");
    await w.deliver();
    const auth = await authorizeAtStripe(w.stripe, 4000, "hold@example.com");
    await w.deliver();
    const held = await w.t.services.transactions.get(auth.pi.id);
    await create({ transaction_id: pay.txnId, amount: 100 }, "key-1");

    const cases: [string, () => Promise<unknown>][] = [
      ["amount_exceeds_refundable", () => create({ transaction_id: pay.txnId, amount: 5000 })],
      ["charge_not_refundable", () => create({ transaction_id: disputed.txnId, amount: 100 })],
      ["duplicate_suspected", () => create({ transaction_id: pay.txnId, amount: 100 })],
      [
        "idempotency_key_reused",
        () => create({ transaction_id: pay.txnId, amount: 200 }, "key-1"),
      ],
      ["conflict", () => create({ transaction_id: held.id, amount: 100 })],
    ];
    const before = (await denials(w)).length;
    for (const [code, attempt] of cases) {
      assert.equal((await refused(attempt())).code, code);
    }
    const entries = (await denials(w)).slice(before);
    assert.deepEqual(entries.map((e) => e.action), cases.map(() => "refund.create"));
    cases.forEach(([code], i) => {
      assert.match(entries[i].reason ?? "", new RegExp(`^${code}: `));
      assert.equal(entries[i].actor.id, w.operator.id);
      assert.equal(entries[i].target?.type, "transaction");
    });
    assert.equal(entries[0].target?.id, pay.txnId);

    // not decisions about money: a malformed request, an unknown payment
    const quiet = (await denials(w)).length;
    await refused(create({ transaction_id: pay.txnId, amount: 1.5 }));
    await refused(create({ transaction_id: "txn_01JD3Y8Z6QKQ2X5N7S9V4W1T0R", amount: 1 }));
    assert.equal((await denials(w)).length, quiet);
  });
});

Deno.test("approving or rejecting a refund already decided or expired is audited denied", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(30000);
    const rejected = await askRefund(w, pay.txnId, 6000, "one");
    const lapsing = await askRefund(w, pay.txnId, 7000, "two");
    const refunds = w.t.services.refunds;
    await refunds.reject(w.ctx(w.admin), rejected.refund.id, { note: "no" });
    const before = (await denials(w)).length;
    // approved by operator2 with the hash as read now
    const approve = async (id: string) =>
      (await refused(refunds.approve(w.ctx(w.operator2), id, await approvalOf(w.t, id)))).code;
    assert.equal(await approve(rejected.refund.id), "conflict");
    assert.equal(
      (await refused(refunds.reject(w.ctx(w.operator2), rejected.refund.id, { note: "x" }))).code,
      "conflict",
    );
    w.clock.advance(24 * 3600_000 + 1000);
    assert.equal(
      (await refused(refunds.reject(w.ctx(w.operator2), lapsing.refund.id, { note: "x" }))).code,
      "conflict",
    );
    assert.equal(await approve(lapsing.refund.id), "conflict");
    const entries = (await denials(w)).slice(before);
    assert.deepEqual(
      entries.map((e) => [e.action, e.target?.id]),
      [
        ["refund.approve", rejected.refund.id],
        ["refund.reject", rejected.refund.id],
        ["refund.reject", lapsing.refund.id],
        ["refund.approve", lapsing.refund.id],
      ],
    );
    assert.match(entries[0].reason ?? "", /is rejected/);
    assert.match(entries[2].reason ?? "", /expired at/);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "5000" } });
});
