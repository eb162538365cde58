/**
 * The admin listing of the webhook intake log (`GET /webhook-events`), newest
 * first, off the indexes kv/webhook_events.ts keeps: by arrival, by type, and
 * by status (every status but `processed`, which is read off the arrival or
 * type index instead).
 */
import { keys } from "./keys.ts";
import { type CursorSealer, listIndexPage, type Page } from "./pagination.ts";
import {
  ignoredReasonOf,
  type WebhookEventRecord,
  type WebhookEventStatus,
  type WebhookIgnoredReason,
} from "../domain/webhook_event.ts";

export interface EventFilters {
  status?: WebhookEventStatus;
  type?: string;
  /** only `ignored` events ignored for this reason */
  ignored_reason?: WebhookIgnoredReason;
}

/**
 * Newest first. `processed` is read off the arrival (or type) index, the
 * others off theirs; a reason of `ignored`, off the `ignored` index.
 */
export function listEventRecords(
  kv: Deno.Kv,
  sealer: CursorSealer,
  filters: EventFilters,
  page: { limit: number; cursor?: string },
): Promise<Page<WebhookEventRecord>> {
  const { type, ignored_reason: reason } = filters;
  if (reason) {
    return listScanned(kv, sealer, {
      scope: `webhook_events:ignored:${type ?? ""}:${reason}:by_log_id`,
      prefix: type
        ? keys.webhookEventsByStatusTypePrefix("ignored", type)
        : keys.webhookEventsByStatusPrefix("ignored"),
      keep: (r) => ignoredReasonOf(r) === reason,
    }, page);
  }
  if (filters.status === "processed") {
    return listScanned(kv, sealer, {
      scope: `webhook_events:processed:${type ?? ""}:by_log_id`,
      prefix: type ? keys.webhookEventsByTypePrefix(type) : keys.webhookEventsByArrivalPrefix(),
      keep: (r) => r.status === "processed",
    }, page);
  }
  const scope = `webhook_events:${filters.status ?? ""}:${type ?? ""}`;
  const prefix = filters.status && type
    ? keys.webhookEventsByStatusTypePrefix(filters.status, type)
    : filters.status
    ? keys.webhookEventsByStatusPrefix(filters.status)
    : type
    ? keys.webhookEventsByTypePrefix(type)
    : keys.webhookEventsByArrivalPrefix();
  return listIndexPage<WebhookEventRecord>(kv, sealer, { prefix }, keys.webhookEvent, {
    ...page,
    scope,
  });
}

/** Index rows one scanned page may pass over (failed, pending… in between). */
const SCAN_MAX_ROWS = 2_000;

/**
 * The records of an index (its rows end in the log id) that `keep` keeps,
 * newest first: `processed` events off the arrival (or type) index, or the
 * `ignored` ones of one reason. The cursor is the log id the page stopped at.
 * A page that passed over `SCAN_MAX_ROWS` rows of others comes back short,
 * with a cursor to go on.
 */
async function listScanned(
  kv: Deno.Kv,
  sealer: CursorSealer,
  index: { scope: string; prefix: Deno.KvKey; keep: (r: WebhookEventRecord) => boolean },
  page: { limit: number; cursor?: string },
): Promise<Page<WebhookEventRecord>> {
  const { scope, prefix } = index;
  let below = page.cursor ? await sealer.unseal(scope, page.cursor) : null;
  const found: WebhookEventRecord[] = [];
  let scanned = 0;
  let chunk = page.limit + 1;
  while (scanned < SCAN_MAX_ROWS) {
    const selector = below === null ? { prefix } : { prefix, end: [...prefix, below] };
    const rows: Deno.KvEntry<string>[] = [];
    for await (const row of kv.list<string>(selector, { reverse: true, limit: chunk })) {
      rows.push(row);
    }
    scanned += rows.length;
    const records = await getRecords(kv, rows.map((r) => r.value));
    for (const [i, row] of rows.entries()) {
      below = row.key[row.key.length - 1] as string;
      const record = records[i];
      if (!record || !index.keep(record)) continue;
      found.push(record);
      if (found.length > page.limit) {
        const data = found.slice(0, page.limit);
        return { data, next_cursor: await sealer.seal(scope, data[data.length - 1].log_id) };
      }
    }
    if (rows.length < chunk) return { data: found, next_cursor: null };
    chunk = Math.min(chunk * 4, 500); // mostly other records here: read ahead further
  }
  return { data: found, next_cursor: below === null ? null : await sealer.seal(scope, below) };
}

async function getRecords(kv: Deno.Kv, ids: string[]): Promise<(WebhookEventRecord | null)[]> {
  const batches: Promise<Deno.KvEntryMaybe<WebhookEventRecord>[]>[] = [];
  for (let i = 0; i < ids.length; i += 10) {
    batches.push(kv.getMany<WebhookEventRecord[]>(ids.slice(i, i + 10).map(keys.webhookEvent)));
  }
  return (await Promise.all(batches)).flat().map((e) => e.value);
}
