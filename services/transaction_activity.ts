/**
 * What operators did about one payment, for GET /transactions/{id}: its
 * refunds, disputes and retry attempts, each as a short line with its id (the
 * detail is at its own route). Read from the per-transaction indexes the
 * refund, dispute and retry records keep, oldest first.
 */
import { listTransactionRefunds } from "../kv/refunds.ts";
import { listDisputesOfTransaction } from "../kv/disputes.ts";
import { listTransactionRetries } from "../kv/retries.ts";
import { stripeTimeIso } from "../domain/stripe_time.ts";

export interface TransactionActivity {
  refunds: {
    id: string;
    amount: number;
    currency: string;
    status: string;
    reason: string | null;
    requested_by: string;
    created_at: string;
  }[];
  disputes: {
    id: string;
    status: string;
    phase: string;
    reason: string;
    amount: number;
    currency: string;
    evidence_due_by: string | null;
    created_at: string;
  }[];
  retries: {
    id: string;
    status: string;
    payment_method: string;
    failure_code: string | null;
    requested_by: string;
    created_at: string;
  }[];
}

const byCreated = (a: { created_at: string }, b: { created_at: string }) =>
  a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0;

export async function transactionActivity(
  kv: Deno.Kv,
  txnId: string,
): Promise<TransactionActivity> {
  const [refunds, disputes, retries] = await Promise.all([
    listTransactionRefunds(kv, txnId),
    listDisputesOfTransaction(kv, txnId),
    listTransactionRetries(kv, txnId),
  ]);
  return {
    refunds: refunds.map((r) => ({
      id: r.id,
      amount: r.amount,
      currency: r.currency,
      status: r.status,
      reason: r.reason,
      requested_by: r.requested_by,
      created_at: r.created_at,
    })).sort(byCreated),
    disputes: disputes.map(({ value: d }) => ({
      id: d.id,
      status: d.status,
      phase: d.phase,
      reason: d.reason,
      amount: d.amount,
      currency: d.currency,
      // null too for an unusable time a record stored before the intake refused them may hold
      evidence_due_by: stripeTimeIso(d.evidence_due_by),
      created_at: d.created_at,
    })).sort(byCreated),
    retries: retries.map((r) => ({
      id: r.id,
      status: r.status,
      payment_method: r.payment_method,
      failure_code: r.failure_code,
      requested_by: r.requested_by,
      created_at: r.created_at,
    })).sort(byCreated),
  };
}
