/**
 * A stub transaction merged into its payment's record (services/ingest/
 * stub_merge.ts): the disputes recorded against the stub (a dispute seen
 * before its payment) move to the payment, in the merge commit, each with
 * its history line and audit entry, and take the payment's customer.
 */
import type { Deps } from "../deps.ts";
import type { AuditInput } from "../audit/mod.ts";
import type { TransactionMergeHook } from "../ingest/mod.ts";
import { type DisputeRecord, withDisputeHistory } from "../../domain/dispute.ts";
import { addUpdateDispute, listDisputesOfTransaction } from "../../kv/disputes.ts";

export function createDisputeMerge(deps: Deps): TransactionMergeHook {
  const { kv, clock } = deps;
  return async (op, from, into) => {
    const at = new Date(clock.now()).toISOString();
    const audit: AuditInput[] = [];
    for (const entry of await listDisputesOfTransaction(kv, from.id)) {
      const r = entry.value;
      const changes = { transaction_id: into.id, customer: into.customer ?? r.customer };
      const next: DisputeRecord = {
        ...r,
        ...changes,
        updated_at: at,
        history: withDisputeHistory(r, { at, by: "stripe", action: "moved", changes }),
      };
      addUpdateDispute(op, entry, next);
      audit.push({
        action: "dispute.move",
        target: { type: "dispute", id: r.id },
        result: "ok",
        before: { transaction_id: from.id },
        after: changes,
        reason: `transaction ${from.id} merged into ${into.id}`,
      });
    }
    return audit;
  };
}
