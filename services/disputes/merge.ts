/**
 * A stub transaction merged into its payment's record (the ingest domain's
 * `TransactionMergeHook`): a chargeback that arrived before the payment was
 * recorded against the charge-keyed stub. Its record moves to the payment's
 * transaction in the merge commit, with a history line and an audit entry,
 * so the dispute lists under the payment's customer at once.
 */
import type { Deps } from "../deps.ts";
import type { AuditInput } from "../audit/mod.ts";
import type { TransactionMergeHook } from "../ingest/mod.ts";
import { withDisputeHistory } from "../../domain/dispute.ts";
import { addUpdateDispute, listDisputesOfTransaction } from "../../kv/disputes.ts";

export function createDisputeMerge(deps: Deps): TransactionMergeHook {
  const { kv, clock } = deps;
  return async (op, from, into) => {
    const at = new Date(clock.now()).toISOString();
    const audit: AuditInput[] = [];
    for (const entry of await listDisputesOfTransaction(kv, from.id)) {
      const before = entry.value;
      const next = {
        ...before,
        transaction_id: into.id,
        customer: before.customer ?? into.customer,
        updated_at: at,
      };
      const changes = { transaction_id: into.id, customer: next.customer };
      next.history = withDisputeHistory(before, {
        at,
        by: "stripe",
        action: "transaction_merged",
        changes,
      });
      addUpdateDispute(op, entry, next);
      audit.push({
        action: "dispute.move",
        target: { type: "dispute", id: before.id },
        result: "ok",
        before: { transaction_id: from.id, customer: before.customer },
        after: changes,
        reason: `transaction ${from.id} merged into ${into.id}`,
      });
    }
    return audit;
  };
}
