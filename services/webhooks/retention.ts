/** The webhook event log's retention: processed and ignored events are forgotten after a while. */
import type { Clock } from "../../core/clock.ts";
import {
  addArrivalDeletion,
  addEventDeletion,
  listArrivedBefore,
} from "../../kv/webhook_events.ts";
import { WEBHOOK_RETENTION_MS } from "./outcome.ts";

/** Arrival index rows the retention sweep reads at a time. */
const SWEEP_PAGE = 100;

/**
 * Retention: removes processed/ignored events past `keep_until`; failed,
 * dead and pending ones are kept until replayed, and so is one a late
 * replay gave a later `keep_until`. Candidates come from the arrival index,
 * oldest first (an event is never due before `WEBHOOK_RETENTION_MS` after
 * it arrived), a page at a time, until `limit` are deleted or `scan` were
 * read: each kept event at the head costs every sweep a read, so more than
 * `scan` of them (failed or dead events past the retention, each with an
 * open ops alert) would hold the sweep up.
 */
export async function sweepExpiredEvents(
  kv: Deno.Kv,
  clock: Clock,
  limit = 500,
  scan = 5_000,
): Promise<{ deleted: number; kept: number }> {
  let deleted = 0, kept = 0, read = 0;
  const now = clock.now();
  let after: string | undefined;
  while (deleted < limit && read < scan) {
    const page = await listArrivedBefore(kv, now - WEBHOOK_RETENTION_MS + 1, {
      after,
      limit: Math.min(SWEEP_PAGE, scan - read),
    });
    for (const { logId, entry } of page) {
      after = logId;
      read++;
      if (deleted === limit) break;
      const record = entry.value;
      const op = kv.atomic();
      if (!record || record.log_id !== logId) {
        addArrivalDeletion(op, logId); // a stale index row
      } else if (
        (record.status === "processed" || record.status === "ignored") &&
        record.keep_until <= now
      ) {
        op.check(entry);
        addEventDeletion(op, record);
        deleted++;
      } else {
        kept++;
        continue;
      }
      await op.commit();
    }
    if (page.length < SWEEP_PAGE) break;
  }
  return { deleted, kept };
}
