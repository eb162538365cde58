/**
 * A stub transaction merged into its payment's record (services/ingest/
 * stub_merge.ts): the refunds recorded against the stub (a Dashboard refund
 * seen before the payment) move to the payment, in the merge commit, each
 * with its audit entry. Their reservations moved with the transaction's
 * `amount_reserved`.
 */
import type { Deps } from "../deps.ts";
import type { TransactionMergeHook } from "../ingest/mod.ts";
import { addRefundTransactionMove, listTransactionRefundEntries } from "../../kv/refunds.ts";

export function createRefundMerge(deps: Deps): TransactionMergeHook {
  const { kv, clock } = deps;
  return async (op, from, into) => {
    const now = new Date(clock.now()).toISOString();
    const audit = [];
    for (const entry of await listTransactionRefundEntries(kv, from.id)) {
      const after = addRefundTransactionMove(op, entry, into.id, now);
      audit.push({
        action: "refund.move",
        target: { type: "refund", id: after.id },
        result: "ok" as const,
        before: { transaction_id: from.id },
        after: { transaction_id: into.id, amount: after.amount, status: after.status },
        reason: `transaction ${from.id} merged into ${into.id}`,
      });
    }
    return audit;
  };
}
