/** Maker-checker: refunds at or above the threshold (or beyond a daily cap) wait for a second person. */
import assert from "node:assert/strict";
import { AppError } from "../core/errors.ts";
import type { RefundWorld } from "./helpers/refunds.ts";
import {
  approvalOf,
  askRefund,
  statusOf,
  stripeRefunds,
  withRefundWorld,
} from "./helpers/refunds.ts";
import { isUndecided } from "../services/refunds/mod.ts";
import { auditEntries, jsonRequest, otpHeaders, type TestAdmin } from "./helpers/identity.ts";
import { systemContext } from "../domain/actor.ts";

const ENV = { REFUND_APPROVAL_THRESHOLD: "5000" };
const HOUR = 3600_000;

function ask(w: RefundWorld, by: TestAdmin, txnId: string, amount: number) {
  return w.t.services.refunds.create(w.ctx(by), {
    transaction_id: txnId,
    amount,
    reason: "requested_by_customer",
    note: "large goodwill refund",
  });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (e) => e);
  assert.ok(e instanceof AppError, `expected an AppError, got ${e}`);
  return e.code;
}

Deno.test("refundService.create() at the threshold reserves the amount and sends nothing until approved", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(8000);
    const res = await ask(w, w.operator, pay.txnId, 5000);
    assert.equal(statusOf(res), 202);
    assert.equal(res.refund.status, "awaiting_approval");
    assert.deepEqual(res.refund.approval.reasons, ["threshold"]);
    assert.match(res.refund.approval.hash ?? "", /^[0-9a-f]{64}$/);
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 5000);
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
    // the reservation counts: only 3000 is left for anyone else
    assert.equal(await codeOf(ask(w, w.operator2, pay.txnId, 3001)), "amount_exceeds_refundable");

    const approved = await w.t.services.refunds.approve(w.ctx(w.operator2), res.refund.id, {
      note: "checked the order",
      approval_hash: res.refund.approval.hash!,
    });
    assert.equal(isUndecided(approved.refund.status), false);
    assert.equal(approved.refund.status, "succeeded");
    assert.equal(approved.refund.approved_by, w.operator2.id);
    await w.deliver();
    const txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_refunded, 5000);
    assert.equal(txn.amount_reserved, 0);
    const stripe = await stripeRefunds(w.stripe, pay.pi);
    assert.deepEqual(stripe.refunds.map((r) => r.amount), [5000]);
  }, { env: ENV });
});

Deno.test("refundService.approve() refuses the requester's own approval and audits the attempt", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(9000);
    const res = await ask(w, w.operator, pay.txnId, 6000);
    assert.equal(
      await codeOf(
        w.t.services.refunds.approve(
          w.ctx(w.operator),
          res.refund.id,
          await approvalOf(w.t, res.refund.id),
        ),
      ),
      "self_approval_forbidden",
    );
    assert.equal((await w.t.services.refunds.get(res.refund.id)).status, "awaiting_approval");
    const audit = await w.t.services.audit.list({ limit: 10, target: res.refund.id });
    const denied = audit.data.find((e) => e.action === "refund.approve");
    assert.equal(denied?.result, "denied");
    assert.equal(denied?.actor.id, w.operator.id);
  }, { env: ENV });
});

Deno.test("an approval request expires after 24 h and releases its reservation", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(7000);
    const res = await ask(w, w.operator, pay.txnId, 7000);
    w.clock.advance(23 * HOUR);
    await w.runJobs();
    assert.equal((await w.t.services.refunds.get(res.refund.id)).status, "awaiting_approval");
    w.clock.advance(HOUR + 1000);
    await w.runJobs();
    const expired = await w.t.services.refunds.get(res.refund.id);
    assert.equal(expired.status, "expired");
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
    assert.equal(
      await codeOf(
        w.t.services.refunds.approve(
          w.ctx(w.admin),
          res.refund.id,
          await approvalOf(w.t, res.refund.id),
        ),
      ),
      "conflict",
    );
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
  }, { env: ENV });
});

Deno.test("concurrent approve and reject: exactly one wins, the other gets 409", async () => {
  await withRefundWorld(async (w) => {
    for (let round = 0; round < 4; round++) {
      const pay = await w.pay(6000);
      const res = await ask(w, w.operator, pay.txnId, 6000);
      // both orders of arrival: each decision must win sometimes
      const body = await approvalOf(w.t, res.refund.id);
      const approve = () => w.t.services.refunds.approve(w.ctx(w.operator2), res.refund.id, body);
      const reject = () =>
        w.t.services.refunds.reject(w.ctx(w.admin), res.refund.id, { note: "not eligible" });
      const [approved, rejected] = round % 2 === 0
        ? await Promise.allSettled([approve(), reject()])
        : (await Promise.allSettled([reject(), approve()])).reverse();
      const wins = [approved, rejected].filter((r) => r.status === "fulfilled");
      assert.equal(wins.length, 1);
      const loser = [approved, rejected].find((r) =>
        r.status === "rejected"
      ) as PromiseRejectedResult;
      assert.equal((loser.reason as AppError).code, "conflict");
      const final = await w.t.services.refunds.get(res.refund.id);
      const stripe = await stripeRefunds(w.stripe, pay.pi);
      await w.deliver();
      const txn = await w.t.services.transactions.get(pay.txnId);
      assert.equal(txn.amount_reserved, 0);
      if (approved.status === "fulfilled") {
        assert.equal(final.status, "succeeded");
        assert.equal(stripe.refunds.length, 1);
        assert.equal(txn.amount_refunded, 6000);
      } else {
        assert.equal(final.status, "rejected");
        assert.equal(final.rejected_by, w.admin.id);
        assert.equal(stripe.refunds.length, 0);
        assert.equal(txn.amount_refunded, 0);
      }
    }
  }, { env: ENV });
});

Deno.test("refundService.approve() re-checks what is refundable at approval time", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(10000);
    const res = await ask(w, w.operator, pay.txnId, 6000);
    await w.stripe.refunds.create({ payment_intent: pay.pi.id, amount: 8000 }); // the Dashboard
    await w.deliver();
    assert.equal(
      await codeOf(
        w.t.services.refunds.approve(
          w.ctx(w.admin),
          res.refund.id,
          await approvalOf(w.t, res.refund.id),
        ),
      ),
      "amount_exceeds_refundable",
    );
    // it can no longer be carried out: ended failed, nothing left to withdraw
    assert.equal((await w.t.services.refunds.get(res.refund.id)).status, "failed");
    const txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_reserved, 0);
    assert.equal(txn.amount_refunded, 8000);
  }, { env: ENV });
});

Deno.test("refundService.approve() refuses an approval_hash that is not the request's", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(6000);
    const res = await ask(w, w.operator, pay.txnId, 5500);
    assert.equal(
      await codeOf(
        w.t.services.refunds.approve(w.ctx(w.admin), res.refund.id, {
          approval_hash: "0".repeat(64),
        }),
      ),
      "conflict",
    );
    assert.equal((await w.t.services.refunds.get(res.refund.id)).status, "awaiting_approval");
  }, { env: ENV });
});

Deno.test("an operator's refunds beyond the daily cap need approval; the cap rolls over 24 h", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(9000);
    const first = await ask(w, w.operator, pay.txnId, 2000);
    assert.equal(statusOf(first), 201);
    const second = await ask(w, w.operator, pay.txnId, 1500);
    assert.equal(statusOf(second), 202);
    assert.deepEqual(second.refund.approval.reasons, ["daily_cap"]);
    // another operator has a cap of their own
    assert.equal(statusOf(await ask(w, w.operator2, pay.txnId, 2500)), 201);
    const rejected = await w.t.services.refunds.reject(w.ctx(w.admin), second.refund.id, {
      note: "over the cap",
    });
    assert.equal(rejected.refund.status, "rejected");
    // a rejected request gives its share of the cap back
    assert.equal(statusOf(await ask(w, w.operator, pay.txnId, 1000)), 201);
    w.clock.advance(23 * HOUR);
    assert.equal(statusOf(await ask(w, w.operator, pay.txnId, 10)), 202, "still within 24 h");
    w.clock.advance(HOUR + 1);
    assert.equal(statusOf(await ask(w, w.operator, pay.txnId, 2500)), 201);
  }, { env: { REFUND_APPROVAL_THRESHOLD: "100000", REFUND_DAILY_CAP_PER_OPERATOR: "3000" } });
});

Deno.test("a decided refund cannot be approved or rejected again", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(20000);
    const a = await ask(w, w.operator, pay.txnId, 6000);
    const b = await ask(w, w.operator, pay.txnId, 7000);
    await w.t.services.refunds.approve(
      w.ctx(w.operator2),
      a.refund.id,
      await approvalOf(w.t, a.refund.id),
    );
    await w.t.services.refunds.reject(w.ctx(w.admin), b.refund.id, { note: "no" });
    const refunds = w.t.services.refunds;
    assert.equal(
      await codeOf(refunds.reject(w.ctx(w.admin), a.refund.id, { note: "x" })),
      "conflict",
    );
    assert.equal(
      await codeOf(
        refunds.approve(w.ctx(w.admin), a.refund.id, await approvalOf(w.t, a.refund.id)),
      ),
      "conflict",
    );
    assert.equal(
      await codeOf(
        refunds.approve(w.ctx(w.operator2), b.refund.id, await approvalOf(w.t, b.refund.id)),
      ),
      "conflict",
    );
    assert.equal(
      await codeOf(refunds.reject(w.ctx(w.operator2), b.refund.id, { note: "x" })),
      "conflict",
    );
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).amount_refunded, 6000);
  }, { env: ENV });
});

Deno.test("attack: a disabled operator's refund awaiting approval ends with the disable (expired, released, nothing sent)", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(8000);
    const res = await ask(w, w.operator, pay.txnId, 5000);
    assert.equal(statusOf(res), 202);
    await w.t.services.identity.updateAdmin(systemContext("test"), w.operator.id, {
      status: "disabled",
    });
    assert.equal((await w.t.services.refunds.get(res.refund.id)).status, "expired");
    assert.equal((await w.t.services.transactions.get(pay.txnId)).amount_reserved, 0);
    const e = await w.t.services.refunds.approve(w.ctx(w.operator2), res.refund.id, {
      approval_hash: res.refund.approval.hash!,
    }).then(() => null, (e) => e);
    assert.ok(e instanceof AppError);
    assert.equal(e.code, "conflict");
    assert.equal(e.extra?.refund_status, "expired");
    assert.equal((await stripeRefunds(w.stripe, pay.pi)).refunds.length, 0);
    const expired = (await auditEntries(w.t.kv)).filter((x) =>
      x.action === "refund.expire" && x.target?.id === res.refund.id
    );
    assert.equal(expired.length, 1);
    assert.match(expired[0].reason ?? "", new RegExp(`${w.operator.id} was disabled`));
  }, { env: ENV });
});

Deno.test("a refund awaiting approval that the payment can no longer carry ends failed at the approver's try, its reservation released", async () => {
  await withRefundWorld(async (w) => {
    const { pi, txnId } = await w.pay(90_000);
    const asked = await askRefund(w, txnId, 60_000, "order returned");
    assert.equal(asked.refund.status, "awaiting_approval");
    // meanwhile someone refunds most of it in the Dashboard
    await w.stripe.refunds.create({ payment_intent: pi.id, amount: 50_000 });
    await w.deliver();
    const res = await w.t.app.request(
      `/api/admin/payments/refunds/${asked.refund.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), await approvalOf(w.t, asked.refund.id)),
    );
    assert.equal(res.status, 422);
    const problem = await res.json();
    assert.equal(problem.code, "amount_exceeds_refundable");
    assert.equal(problem.refund_status, "failed");
    const refund = await w.t.services.refunds.get(asked.refund.id);
    assert.equal(refund.status, "failed");
    assert.equal(refund.failure_reason, "amount_exceeds_refundable");
    const txn = await w.t.services.transactions.get(txnId);
    assert.deepEqual([txn.amount_refunded, txn.amount_reserved], [50_000, 0]);
    // what is really left can be refunded
    const rest = await askRefund(w, txnId, 40_000, "the rest");
    assert.equal(rest.refund.status, "succeeded");
  });
});

Deno.test("approving a refund the payment can no longer carry counts only other refunds as in flight in its message", async () => {
  await withRefundWorld(async (w) => {
    const { pi, txnId } = await w.pay(90_000);
    const asked = await askRefund(w, txnId, 60_000, "order returned");
    assert.equal(asked.refund.status, "awaiting_approval");
    // meanwhile the whole payment is refunded in the Dashboard
    await w.stripe.refunds.create({ payment_intent: pi.id });
    await w.deliver();
    const res = await w.t.app.request(
      `/api/admin/payments/refunds/${asked.refund.id}/approve`,
      jsonRequest("POST", otpHeaders(w.t, w.operator2), await approvalOf(w.t, asked.refund.id)),
    );
    assert.equal(res.status, 422);
    const problem = await res.json();
    assert.equal(problem.code, "amount_exceeds_refundable");
    assert.equal(problem.refund_status, "failed");
    // the refund being approved is not "in flight" besides itself
    assert.match(problem.detail, /refunded 900\.00 USD, in flight 0\.00 USD/);
  });
});
