/**
 * What the refund path reads ahead or reads less of: the settlement read-ahead
 * (services/refunds/read_ahead.ts) is served once and never acted on stale,
 * and the approval policy's requester index rows (kv/refunds.ts `RequesterRow`)
 * follow the refund's status, with an older id-only row still counted.
 */
import assert from "node:assert/strict";
import { ReadAhead } from "../services/refunds/read_ahead.ts";
import { keys } from "../kv/keys.ts";
import type { RequesterRow } from "../kv/refunds.ts";
import { markCovers } from "../kv/refund_policy.ts";
import { type RefundWorld, statusOf, withRefundWorld } from "./helpers/refunds.ts";

function ask(w: RefundWorld, txnId: string, amount: number, extra = {}) {
  return w.t.services.refunds.create(w.ctx(w.operator, crypto.randomUUID()), {
    transaction_id: txnId,
    amount,
    reason: "requested_by_customer",
    note: "read ahead",
    ...extra,
  });
}

Deno.test("ReadAhead answers each key once, a read of several keys only from one snapshot", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await kv.set(["a"], 1);
    await kv.set(["b"], 2);
    const ahead = new ReadAhead(kv, [["a"], ["b"]]);
    const view = ahead.over(kv);
    await kv.set(["a"], 10); // moved after it was read ahead
    assert.equal((await view.get(["a"])).value, 1, "the read made ahead");
    assert.equal((await view.get(["a"])).value, 10, "then KV as usual");
    // ["a"] was taken: this read is not all from the snapshot, so it goes to KV
    assert.deepEqual((await view.getMany([["a"], ["b"]])).map((e) => e.value), [10, 2]);
    const again = new ReadAhead(kv, [["a"], ["b"]]);
    await kv.set(["b"], 20);
    assert.deepEqual((await again.over(kv).getMany([["a"], ["b"]])).map((e) => e.value), [10, 2]);
    assert.equal(again.take(["b"]), null);
  } finally {
    kv.close();
  }
});

Deno.test("ReadAhead.follow reads the keys the first read names, once it lands, in one snapshot", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await kv.set(["txn"], { links: ["x", "y"] });
    await kv.set(["by", "x"], "t1");
    await kv.set(["by", "y"], "t1");
    let fromKv = 0; // reads the view sends to KV itself, not served from what was read ahead
    const counted = new Proxy(kv, {
      get(target, prop) {
        if (prop === "get" || prop === "getMany") fromKv++;
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const follow = ([txn]: Deno.KvEntryMaybe<unknown>[]) =>
      ((txn.value as { links: string[] } | null)?.links ?? []).map((l) => ["by", l]);
    const early = new ReadAhead(kv, [["txn"]]).follow(kv, follow).over(counted);
    // asked before the first read landed: KV answers, nothing waits
    assert.deepEqual((await early.getMany([["by", "x"], ["by", "y"]])).map((e) => e.value), [
      "t1",
      "t1",
    ]);
    assert.equal(fromKv, 1);
    await new Promise((r) => setTimeout(r, 20));
    await early.get(["by", "x"]);
    assert.equal(fromKv, 2, "a key read before the follow-up landed is not read ahead after");

    fromKv = 0;
    const ahead = new ReadAhead(kv, [["txn"]]).follow(kv, follow);
    const view = ahead.over(counted);
    assert.deepEqual((await view.get(["txn"])).value, { links: ["x", "y"] });
    await new Promise((r) => setTimeout(r, 20));
    const pair = await view.getMany([["by", "x"], ["by", "y"]]);
    assert.deepEqual(pair.map((e) => e.value), ["t1", "t1"]);
    assert.equal(fromKv, 0, "both reads served from what was read ahead");
    await kv.set(["by", "x"], "t2");
    assert.equal((await view.get(["by", "x"])).value, "t2", "each key answers once, then KV");
    assert.equal(fromKv, 1);
  } finally {
    kv.close();
  }
});

Deno.test("a read ahead that fails answers nothing and, never taken, is no unhandled rejection", async () => {
  const kv = await Deno.openKv(":memory:");
  kv.close(); // every read of it fails
  const live = await Deno.openKv(":memory:");
  try {
    await live.set(["a"], 1);
    const untaken = new ReadAhead(kv, [["a"], ["b"]]);
    const taken = new ReadAhead(kv, [["a"]]);
    // a row taken still rejects to its taker, whose reads then go to KV
    await assert.rejects(taken.take(["a"])!);
    assert.equal((await taken.over(live).get(["a"])).value, 1);
    // the rows of `untaken` are left to settle: the test runner fails on an unhandled rejection
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(untaken);
  } finally {
    live.close();
  }
});

Deno.test("a read-ahead gone stale while Stripe answered is read again: the money adds up", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    let second: Awaited<ReturnType<typeof ask>> | null = null;
    w.hooks.afterStripeCall = async () => {
      w.hooks.afterStripeCall = undefined;
      // another refund of the same payment lands between the first's read-ahead and its settle
      second = await ask(w, pay.txnId, 1000);
    };
    const first = await ask(w, pay.txnId, 1500);
    assert.equal(first.refund.status, "succeeded");
    assert.equal(second!.refund.status, "succeeded");
    const txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_refunded, 2500);
    assert.equal(txn.amount_reserved, 0);
  });
});

Deno.test("a webhook settling the refund first leaves the read-ahead stale: settled once", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(5000);
    w.hooks.afterStripeCall = async () => {
      w.hooks.afterStripeCall = undefined;
      assert.ok(await w.deliver() > 0);
    };
    const res = await ask(w, pay.txnId, 1200);
    assert.equal(res.refund.status, "succeeded");
    const txn = await w.t.services.transactions.get(pay.txnId);
    assert.equal(txn.amount_refunded, 1200);
    assert.equal(txn.amount_reserved, 0);
    const audit = await w.t.services.audit.list({ limit: 100, target: res.refund.id });
    assert.equal(audit.data.filter((e) => e.action === "refund.settle").length, 1);
  });
});

Deno.test("requester index rows follow the status, and an older id-only row still counts", async () => {
  await withRefundWorld(async (w) => {
    const pay = await w.pay(200000);
    const first = await ask(w, pay.txnId, 30000);
    assert.equal(statusOf(first), 201);
    const rowKey = keys.refundByRequester(w.operator.id, first.refund.id);
    const row = (await w.t.kv.get<RequesterRow>(rowKey)).value;
    assert.equal(row?.status, "succeeded", "rewritten when the refund settled");
    assert.equal(row?.amount, 30000);
    // a row written before rows carried the policy's fields: the record is read instead
    await w.t.kv.set(rowKey, first.refund.id);
    const second = await ask(w, pay.txnId, 25000);
    assert.equal(statusOf(second), 202, "30,000 + 25,000 reaches the threshold");
    assert.deepEqual(second.refund.approval.reasons, ["threshold"]);
    const listed = await w.t.services.refunds.list({ limit: 10, requested_by: w.operator.id });
    assert.deepEqual(
      listed.data.map((r) => r.id).sort(),
      [first.refund.id, second.refund.id].sort(),
      "the listing reads both kinds of row",
    );
  }, { env: { REFUND_APPROVAL_THRESHOLD: "50000" } });
});

Deno.test("markCovers(): rows listed beside the mark's read hold the request it names, or are listed again", () => {
  const row = (id: string) => ({
    id,
    transaction_id: "txn_1",
    amount: 1,
    currency: "usd",
    status: "succeeded" as const,
    created_at: "2026-01-01T00:00:00.000Z",
  });
  const since = 1_000;
  assert.equal(markCovers(null, [], since), true, "no request of the operator ever landed");
  assert.equal(markCovers(5_000, [row("rfd_a")], since), false, "an older mark names no refund");
  assert.equal(markCovers({ at: 5_000, refund_id: "rfd_a" }, [row("rfd_a")], since), true);
  assert.equal(
    markCovers({ at: 5_000, refund_id: "rfd_b" }, [row("rfd_a")], since),
    false,
    "a request landed between the list and the mark's read",
  );
  assert.equal(markCovers({ at: 500, refund_id: "rfd_b" }, [], since), true, "outside the window");
});
