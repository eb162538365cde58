/**
 * The approval policy's kept rows (services/refunds/policy_rows.ts) are the
 * rows in KV at the moment of the read, whoever wrote them: a property test
 * writes through the real KV helpers, as this process and as "another
 * process" (no `asked`), and compares every read with a fresh list; and the
 * usual life of an operator's refunds (ask, settle, ask again) lists once.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "../core/clock.ts";
import { createIdFactory } from "../core/ids.ts";
import { keys } from "../kv/keys.ts";
import {
  addCreateRefund,
  addRefundTransactionMove,
  addUpdateRefund,
  type RequesterRow,
} from "../kv/refunds.ts";
import { listRequesterRowsSince } from "../kv/refund_policy.ts";
import { REFRESH_MS, RequesterRows } from "../services/refunds/policy_rows.ts";
import type { RefundRecord, RefundStatus } from "../domain/refund.ts";
import type { Transaction } from "../domain/transaction.ts";
import { draftRecord } from "../services/refunds/draft.ts";

const OPERATOR = "adm_a";
const WINDOW_MS = 24 * 3600_000;

function record(id: string, requester: string, txn: string, amount: number, at: number) {
  return draftRecord({
    id,
    txn: { stripe_payment_intent: `pi_${txn}` } as Transaction,
    input: { note: "test" },
    base: { transaction_id: txn, amount, currency: "usd", reason: "requested_by_customer" },
    requester,
    reasons: [],
    capDay: null,
    now: at,
  });
}

interface World {
  kv: Deno.Kv;
  clock: ManualClock;
  rows: RequesterRows;
  newId: ReturnType<typeof createIdFactory>;
  ids: Record<string, string[]>;
}

async function withWorld(fn: (w: World) => Promise<void>) {
  const kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(Date.UTC(2026, 11, 5, 12));
  try {
    await fn({
      kv,
      clock,
      rows: new RequesterRows(kv, clock),
      newId: createIdFactory(clock),
      ids: {},
    });
  } finally {
    kv.close();
  }
}

/** A refund asked for by `requester`, as this process (`asked`) or another one would write it. */
async function create(w: World, requester: string, amount: number, ours: boolean) {
  const id = w.newId("rfd");
  if (ours) w.rows.asked(requester, id);
  const op = w.kv.atomic();
  addCreateRefund(op, record(id, requester, `txn_${amount % 3}`, amount, w.clock.now()));
  assert.ok((await op.commit()).ok);
  (w.ids[requester] ??= []).push(id);
  return id;
}

async function setStatus(w: World, id: string, status: RefundStatus) {
  const entry = await w.kv.get<RefundRecord>(keys.refund(id));
  const op = w.kv.atomic();
  addUpdateRefund(op, entry as Deno.KvEntry<RefundRecord>, { ...entry.value!, status });
  assert.ok((await op.commit()).ok);
}

async function move(w: World, id: string) {
  const entry = await w.kv.get<RefundRecord>(keys.refund(id));
  const op = w.kv.atomic();
  addRefundTransactionMove(op, entry as Deno.KvEntry<RefundRecord>, "txn_merged", "2026-12-05");
  assert.ok((await op.commit()).ok);
}

const view = (rows: RequesterRow[]) =>
  rows.map((r) => `${r.id}:${r.status}:${r.transaction_id}:${r.amount}`).sort();

async function truth(w: World, since: number) {
  return view((await listRequesterRowsSince(w.kv, OPERATOR, since)).map((l) => l.row));
}

type Action =
  | { kind: "create"; amount: number; ours: boolean; requester: string }
  | { kind: "status"; pick: number; status: RefundStatus }
  | { kind: "move"; pick: number }
  | { kind: "read" }
  | { kind: "race"; amount: number; ours: boolean }
  | { kind: "time"; ms: number };

const actions = fc.array(
  fc.oneof(
    fc.record({
      kind: fc.constant("create" as const),
      amount: fc.integer({ min: 1, max: 9999 }),
      ours: fc.boolean(),
      requester: fc.constantFrom(OPERATOR, OPERATOR, "adm_b"),
    }),
    fc.record({
      kind: fc.constant("status" as const),
      pick: fc.nat(),
      status: fc.constantFrom<RefundStatus>("pending", "succeeded", "failed", "rejected"),
    }),
    fc.record({ kind: fc.constant("move" as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant("read" as const) }),
    fc.record({ kind: fc.constant("read" as const) }),
    fc.record({
      kind: fc.constant("race" as const),
      amount: fc.integer({ min: 1, max: 9999 }),
      ours: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant("time" as const),
      ms: fc.integer({ min: 0, max: 2 * REFRESH_MS }),
    }),
  ),
  { maxLength: 60 },
);

async function step(w: World, a: Action) {
  const mine = w.ids[OPERATOR] ?? [];
  const since = () => w.clock.now() - WINDOW_MS;
  if (a.kind === "create") await create(w, a.requester, a.amount, a.ours);
  else if (a.kind === "status" && mine.length) {
    await setStatus(w, mine[a.pick % mine.length], a.status);
  } else if (a.kind === "move" && mine.length) await move(w, mine[a.pick % mine.length]);
  else if (a.kind === "time") w.clock.advance(a.ms);
  else if (a.kind === "read") {
    const got = view((await w.rows.read(OPERATOR, since())).rows);
    assert.deepEqual(got, await truth(w, since()));
  } else if (a.kind === "race") {
    // a write lands while the rows are read: the read is the state before it or after it
    const before = await truth(w, since());
    const [read] = await Promise.all([
      w.rows.read(OPERATOR, since()),
      create(w, OPERATOR, a.amount, a.ours),
    ]);
    const after = await truth(w, since());
    assert.ok(
      [JSON.stringify(before), JSON.stringify(after)].includes(JSON.stringify(view(read.rows))),
      "the read is one moment's rows",
    );
  }
}

Deno.test("kept rows equal a fresh list after any mix of writes, ours and another process's", async () => {
  await fc.assert(
    fc.asyncProperty(actions, async (list) => {
      await withWorld(async (w) => {
        for (const a of list) await step(w, a);
        const since = w.clock.now() - WINDOW_MS;
        assert.deepEqual(view((await w.rows.read(OPERATOR, since)).rows), await truth(w, since));
      });
    }),
    { numRuns: 150 },
  );
});

Deno.test("asking, settling and asking again lists the rows once; another process's refund lists them again", async () => {
  await withWorld(async (w) => {
    const since = () => w.clock.now() - WINDOW_MS;
    for (let i = 0; i < 20; i++) {
      const read = await w.rows.read(OPERATOR, since());
      assert.equal(read.rows.length, i);
      const id = await create(w, OPERATOR, 100 + i, true);
      await setStatus(w, id, "succeeded");
      w.clock.advance(1000);
    }
    assert.equal(w.rows.lists, 1, "one list, then only the watched rows were read");
    await create(w, OPERATOR, 5, false);
    assert.equal((await w.rows.read(OPERATOR, since())).rows.length, 21);
    assert.equal(w.rows.lists, 2, "a row this process did not ask for: listed again");
    // a settled refund changed again (Stripe fails a refund after it succeeded)
    await setStatus(w, w.ids[OPERATOR][0], "failed");
    const read = await w.rows.read(OPERATOR, since());
    assert.equal(read.rows.find((r) => r.id === w.ids[OPERATOR][0])?.status, "failed");
    assert.equal(w.rows.lists, 3);
  });
});

Deno.test("rows written without the count (an older process) are caught by the mark, or by the refresh", async () => {
  await withWorld(async (w) => {
    const since = () => w.clock.now() - WINDOW_MS;
    const id = await create(w, OPERATOR, 100, true);
    await setStatus(w, id, "succeeded"); // settled: no longer watched
    await w.rows.read(OPERATOR, since());
    // an older process asks for a refund: its row and the mark, no count
    const other = w.newId("rfd");
    const row = (await w.kv.get<RequesterRow>(keys.refundByRequester(OPERATOR, id))).value!;
    await w.kv.set(keys.refundByRequester(OPERATOR, other), { ...row, id: other, w: undefined });
    await w.kv.set(keys.refundRequesterMark(OPERATOR), { at: w.clock.now(), refund_id: other });
    assert.deepEqual(
      (await w.rows.read(OPERATOR, since())).rows.map((r) => r.id).sort(),
      [id, other].sort(),
      "the mark names a refund the kept rows lack: listed again",
    );
    // it changes a settled row: nothing a reader watches moves, so only the refresh finds it
    await w.kv.set(keys.refundByRequester(OPERATOR, id), { ...row, status: "failed" });
    const lists = w.rows.lists;
    w.clock.advance(REFRESH_MS + 1);
    const read = await w.rows.read(OPERATOR, since());
    assert.equal(
      read.rows.find((r) => r.id === id)?.status,
      "failed",
      "listed again after REFRESH_MS",
    );
    assert.equal(w.rows.lists, lists + 1);
  });
});

Deno.test("the kept rows stay within their limit: the operator kept longest is forgotten", async () => {
  await withWorld(async (w) => {
    const rows = new RequesterRows(w.kv, w.clock, { rows: 5 });
    const since = w.clock.now() - WINDOW_MS;
    for (let i = 0; i < 3; i++) await create(w, "adm_a", 100 + i, false);
    for (let i = 0; i < 3; i++) await create(w, "adm_b", 200 + i, false);
    for (let i = 0; i < 6; i++) await create(w, "adm_c", 300 + i, false);
    assert.equal((await rows.read("adm_a", since)).rows.length, 3);
    assert.equal((await rows.read("adm_a", since)).rows.length, 3);
    assert.equal(rows.lists, 1, "kept");
    assert.equal((await rows.read("adm_b", since)).rows.length, 3);
    assert.equal(rows.keptRows, 3, "adm_a forgotten: 6 rows would pass the limit of 5");
    assert.equal(
      (await rows.read("adm_c", since)).rows.length,
      6,
      "read, not kept: over the limit",
    );
    assert.equal(rows.keptRows, 3);
    await rows.read("adm_a", since);
    assert.equal(rows.lists, 4, "adm_a listed again");
  });
});
