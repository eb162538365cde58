/**
 * What the refund approval policy reads: one operator's refunds of the last
 * 24 h (through `["refunds_by_requester", admin, id]`, ULID ids in time
 * order) with their payments' customers, and the operator's mark.
 *
 *   ["refund_requester_marks", admin] -> ms of the operator's last request
 */
import { keys } from "./keys.ts";
import { idLowerBound } from "../core/ids.ts";
import { getManyChunked } from "./atomic.ts";
import type { RefundRecord } from "../domain/refund.ts";
import type { Transaction } from "../domain/transaction.ts";

export interface RecentRefund {
  id: string;
  transaction_id: string;
  customer: string | null;
  amount: number;
  currency: string;
  status: RefundRecord["status"];
  created_at: string;
}

/** The operator's refunds created at or after `sinceMs`, with each payment's customer. */
export async function listRequesterRefundsSince(
  kv: Deno.Kv,
  requester: string,
  sinceMs: number,
): Promise<RecentRefund[]> {
  const prefix = keys.refundsByRequesterPrefix(requester);
  const ids: string[] = [];
  const iter = kv.list<string>({
    start: [...prefix, idLowerBound("rfd", sinceMs)],
    end: [...prefix, "rfd_\uffff"],
  });
  for await (const e of iter) ids.push(e.value);
  const refunds = (await getManyChunked<RefundRecord>(kv, ids.map((id) => keys.refund(id))))
    .flatMap((r) => r.value ? [r.value] : []);
  const txnIds = [...new Set(refunds.map((r) => r.transaction_id))];
  const txns = await getManyChunked<Transaction>(kv, txnIds.map((id) => keys.transaction(id)));
  const customerOf = new Map<string, string | null>();
  for (const t of txns) if (t.value) customerOf.set(t.value.id, t.value.customer ?? null);
  return refunds.map((r) => ({
    id: r.id,
    transaction_id: r.transaction_id,
    customer: customerOf.get(r.transaction_id) ?? null,
    amount: r.amount,
    currency: r.currency,
    status: r.status,
    created_at: r.created_at,
  }));
}

export function getRequesterMark(kv: Deno.Kv, requester: string) {
  return kv.get<number>(keys.refundRequesterMark(requester));
}

/** Checks the mark read and moves it: a concurrent request of the same operator retries. */
export function addRequesterMark(
  op: Deno.AtomicOperation,
  read: Deno.KvEntryMaybe<number>,
  nowMs: number,
): void {
  op.check(read).set(read.key, nowMs);
}
