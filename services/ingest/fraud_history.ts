/**
 * The fraud history's part of an ingest commit: the subject's history
 * (domain/fraud_history.ts), its row in the change index the sweep walks,
 * and the card declines the cross-customer check reads, all in the commit
 * that applies the event. The change-index row is the durable work item: the
 * fraud service's live pass (every few seconds locally, each minute by cron)
 * evaluates the rules on what changed, and the sweep walks the same index.
 */
import { type FraudHistory, planHistory } from "../../domain/fraud_history.ts";
import type { Transaction, TxnSync } from "../../domain/transaction.ts";
import {
  addCardDecline,
  addCardHistory,
  addHistoryChange,
  getCardHistory,
} from "../../kv/fraud.ts";

interface Ctx {
  /** the service's clock: stamps what changed, for the walkers' "changed since" */
  now: number;
}

/** Writes what follows from a changed history (`previous`: as read, null when none). */
export function addHistoryWork(
  op: Deno.AtomicOperation,
  previous: FraudHistory | null,
  history: FraudHistory,
  ctx: Ctx,
): void {
  addHistoryChange(op, previous?.changed_at ?? null, history);
  if (!history.subject.startsWith("card:")) {
    for (const a of history.attempts) {
      if (a.u !== ctx.now || a.o !== "f" || !a.f) continue;
      addCardDecline(op, { fingerprint: a.f, t: a.t, customer: history.subject, k: a.k, x: a.x });
    }
  }
}

/** The customer's history after this transaction, or null when unchanged. */
export function planCustomerHistory(
  previous: FraudHistory | null,
  customer: string,
  sync: TxnSync,
  txn: Transaction,
  now: number,
): FraudHistory | null {
  return planHistory(previous, customer, sync, txn, now);
}

/** A payment without a customer: its card's history, read, checked and written here. */
export async function addCardHistoryWork(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  sync: TxnSync,
  txn: Transaction,
  ctx: Ctx,
): Promise<void> {
  const fingerprint = txn.payment_method?.fingerprint;
  if (!fingerprint) return;
  const read = await getCardHistory(kv, fingerprint);
  const next = planHistory(read.value, `card:${fingerprint}`, sync, txn, ctx.now);
  if (!next) return;
  op.check(read);
  addCardHistory(op, fingerprint, next);
  addHistoryWork(op, read.value, next, ctx);
}
