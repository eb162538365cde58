/**
 * One transaction per payment, whatever arrives first. An object that names
 * only the charge (a dispute, an early fraud warning, a review, a refund made
 * in the Dashboard) before any event links that charge to its PaymentIntent
 * gets a charge-keyed stub. The first event naming both merges the stub into
 * the PaymentIntent's record in ONE audited commit: its snapshots join the
 * payment's sync state (so its refunds, disputes and signals count there and
 * the ledger posts them to the payment's customer), its Stripe ids point at
 * the payment, its record and listing indexes go (its id redirects), and the
 * services that keep records about a transaction move theirs
 * (`TransactionMergeHook`). A stub has no customer, so it never posted to a
 * ledger: its money reaches the ledger through the merged record.
 */
import type { AuditInput } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { Transaction, TxnSync } from "../../domain/transaction.ts";
import type { Deps } from "../deps.ts";
import { type EventCommitter, needsAudit, noChange } from "./commit.ts";
import { mergeObservation, type Observation } from "./merge.ts";
import { deriveTransaction } from "./derive.ts";
import {
  addStripeIdMove,
  addTransactionMergedAway,
  addTransactionWrite,
  findTransactionId,
  findTransactionIds,
  readTransactionState,
} from "../../kv/transactions.ts";

/**
 * Moves a service's own records from the stub (`from`) to the payment's
 * transaction (`into`) inside the merge commit. Same rules as the settlement
 * hook: add to `op` only, never commit, may run several times; return the
 * audit entries of the records it moved.
 */
export type TransactionMergeHook = (
  op: Deno.AtomicOperation,
  from: Transaction,
  into: Transaction,
) => Promise<AuditInput[]>;

const MAX_EVENT_IDS = 50;

/** Every snapshot of the stub, as observations of the payment. */
function observationsOf(sync: TxnSync): Observation[] {
  return [
    ...Object.values(sync.charges).map((snap) => ({ kind: "charge" as const, snap })),
    ...Object.values(sync.refunds).map((snap) => ({ kind: "refund" as const, snap, raw: null })),
    ...Object.values(sync.disputes).map((snap) => ({ kind: "dispute" as const, snap, raw: null })),
    ...Object.values(sync.efws).map((snap) => ({ kind: "efw" as const, snap })),
    ...Object.values(sync.reviews).map((snap) => ({ kind: "review" as const, snap })),
  ];
}

function union(a: string[], b: string[], max?: number): string[] {
  const all = [...new Set([...a, ...b])];
  return max ? all.slice(-max) : all;
}

/** The stub's postings, if it ever had any, so nothing is posted twice. */
function mergePostings(into: TxnSync, from: TxnSync): void {
  const a = into.posted, b = from.posted;
  if (!b.customer) return;
  const max = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = Math.max(out[k] ?? 0, v);
    return out;
  };
  into.posted = {
    customer: a.customer ?? b.customer,
    currency: a.currency ?? b.currency,
    payment: a.payment + b.payment,
    refunds: max(a.refunds, b.refunds),
    withdrawn: max(a.withdrawn, b.withdrawn),
    reinstated: max(a.reinstated, b.reinstated),
  };
  if (a.reversed || b.reversed) into.posted.reversed = max(a.reversed ?? {}, b.reversed ?? {});
}

/**
 * When the PaymentIntent and the charge of `refs` are held by two different
 * transactions, merges the charge's stub into the PaymentIntent's. Returns
 * what it did for the event log (`merged txn_a into txn_b`), or null.
 */
export async function mergeSplitPayment(
  deps: Deps,
  svc: { committer: EventCommitter; mergeHooks?: TransactionMergeHook[] },
  refs: { pi: string | null; charge: string | null },
  ctx: CallContext,
  options: { plainOnly?: boolean } = {},
): Promise<string | null> {
  if (!refs.pi || !refs.charge) return null;
  const { kv, clock } = deps;
  const [intoId, fromId] = await findTransactionIds(kv, [refs.pi, refs.charge]);
  if (!intoId || !fromId || intoId === fromId) return null;
  const result = await svc.committer.commit(ctx, async (op, audited) => {
    if (!audited) needsAudit();
    const [into, from] = await Promise.all([
      readTransactionState(kv, intoId),
      readTransactionState(kv, fromId),
    ]);
    const stub = from.sync.value, target = into.sync.value;
    if (!stub || !from.txn.value || !target || !into.txn.value) {
      noChange(`${fromId} or ${intoId} is gone (merged meanwhile)`);
    }
    // Only a stub merges: a record with a PaymentIntent of its own is another payment.
    if (stub.pi || (stub.payment_intent && stub.payment_intent !== refs.pi)) {
      noChange(`${fromId} belongs to another payment; not merged`);
    }
    op.check(into.txn, into.sync, from.txn, from.sync);
    const sync = structuredClone(target);
    for (const o of observationsOf(stub)) mergeObservation(sync, o);
    sync.counted = union(sync.counted, stub.counted);
    sync.forgotten = union(sync.forgotten, stub.forgotten);
    sync.events = union(sync.events, stub.events, MAX_EVENT_IDS);
    mergePostings(sync, stub);
    for (const id of stub.linked) {
      const entry = await findTransactionId(kv, id);
      if (entry.value === fromId) addStripeIdMove(op, entry, intoId);
      if (!sync.linked.includes(id)) sync.linked.push(id);
    }
    const before = into.txn.value;
    const now = clock.now();
    const txn = deriveTransaction(sync, {
      id: intoId,
      amount_reserved: before.amount_reserved + from.txn.value.amount_reserved,
      stripe_payment_intent: sync.payment_intent,
    }, now);
    const audit: AuditInput[] = [{
      action: "transaction.merge",
      target: { type: "transaction", id: intoId },
      result: "ok",
      before: {
        merged_from: fromId,
        stub_status: from.txn.value.status,
        stub_refunded: from.txn.value.amount_refunded,
        stub_disputed: from.txn.value.amount_disputed,
        stub_reserved: from.txn.value.amount_reserved,
      },
      after: {
        stripe_ids: sync.linked,
        amount_refunded: txn.amount_refunded,
        amount_disputed: txn.amount_disputed,
        amount_reserved: txn.amount_reserved,
      },
      reason: `${refs.charge} belongs to ${refs.pi}: one transaction per payment`,
    }];
    for (const hook of svc.mergeHooks ?? []) audit.push(...await hook(op, from.txn.value, txn));
    addTransactionMergedAway(op, from.txn.value, intoId);
    addTransactionWrite(op, before, txn, sync, true);
    return { value: { applied: true, detail: `merged ${fromId} into ${intoId}` }, audit };
  }, { plainOnly: options.plainOnly });
  return result.applied ? result.detail : null;
}
