/**
 * The `webhook.process` job of one event, removed when a person settles the
 * event by hand (a replay that processes it, a dismissal: replay.ts,
 * dismiss.ts), so /metrics' job gauges count only what still needs doing.
 */
import { addJobsDeletion } from "../../kv/jobs.ts";
import { WEBHOOK_PROCESS_JOB } from "./outcome.ts";

/** Deletes, in `op`, the event's `webhook.process` job, waiting or dead-lettered. */
export function addEventJobsDeletion(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  eventId: string,
): Promise<number> {
  return addJobsDeletion(
    kv,
    op,
    WEBHOOK_PROCESS_JOB,
    (p) => (p as { event_id?: string } | null)?.event_id === eventId,
  );
}
