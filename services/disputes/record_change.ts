/**
 * One change to a dispute record: its phase worked out again, one line of
 * history, and the write checked against the entry it was read from.
 */
import { type DisputeHistoryEntry, type DisputeRecord, phaseOf } from "../../domain/dispute.ts";
import { withDisputeHistory } from "../../domain/dispute.ts";
import { addUpdateDispute } from "../../kv/disputes.ts";
import type { AuditInput } from "../audit/mod.ts";

/** Adds to `op` the write of `next`, made from the record in `entry`, with `line` in its history. */
export function addDisputeChange(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<DisputeRecord>,
  next: DisputeRecord,
  line: DisputeHistoryEntry,
): void {
  next.phase = phaseOf(next);
  next.history = withDisputeHistory(entry.value, line);
  addUpdateDispute(op, entry, next);
}

/**
 * `addDisputeChange`, answered as `audit.commit` takes it: the new record and
 * its audit entry (on the dispute).
 */
export function disputeChanged(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<DisputeRecord>,
  change: { next: DisputeRecord; line: DisputeHistoryEntry },
  audit: Omit<AuditInput, "target">,
): { value: DisputeRecord; audit: AuditInput[] } {
  addDisputeChange(op, entry, change.next, change.line);
  const target = { type: "dispute", id: entry.value.id };
  return { value: change.next, audit: [{ ...audit, target }] };
}
