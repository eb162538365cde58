/**
 * Ops alerts: problems an operator must look at (a refund Stripe failed after
 * reporting it succeeded, a refund Stripe never received, a webhook event
 * that used up its processing attempts). Raised inside the commit that finds
 * the problem; closed by an operator with a note.
 *
 *   ["ops_alerts", id] -> OpsAlert   (ids are `ops_` ULIDs: time order)
 *
 * They are rare, so the listing walks the records themselves, newest first,
 * and filters by status as it goes (no index to keep in step).
 */
import { keys } from "./keys.ts";
import { idLowerBound } from "../core/ids.ts";
import { type CursorSealer, type Page, scanPage } from "./pagination.ts";

export const OPS_ALERT_STATUSES = ["open", "closed"] as const;
export type OpsAlertStatus = typeof OPS_ALERT_STATUSES[number];

export const OPS_ALERT_KINDS = [
  "refund_failed_after_success",
  "refund_lost_at_stripe",
  "webhook_event_dead",
  "dispute_due_soon",
  "authorization_expiring",
  "admin_disabled",
  "admin_demoted",
  "admin_created",
  "admin_enabled",
  "admin_promoted",
  "admin_credentials_reset",
] as const;
export type OpsAlertKind = typeof OPS_ALERT_KINDS[number];

export interface OpsAlert {
  id: string;
  kind: OpsAlertKind;
  /** the refund, for refund alerts */
  refund_id: string | null;
  transaction_id: string | null;
  stripe_refund: string | null;
  /** the Stripe event (`evt_…`), for `webhook_event_dead` (absent on alerts raised before) */
  webhook_event_id?: string | null;
  /** the dispute (`dsp_…`), for `dispute_due_soon` */
  dispute_id?: string | null;
  /** the admin (`adm_…`), for the `admin_*` kinds */
  admin_id?: string | null;
  /**
   * the admins who did what the alert reports (`admin_disabled`, `admin_demoted`: the one acting
   * alone, or the requester and the approver); absent on alerts raised before it was recorded
   */
  acted_by?: string[];
  /** the money at stake, when the alert is about an amount */
  amount: number | null;
  currency: string | null;
  detail: string;
  status: OpsAlertStatus;
  created_at: string;
  /** set when an operator closes it (absent on alerts raised before closing existed) */
  closed_at?: string | null;
  closed_by?: string | null;
  close_note?: string | null;
}

/** How many alerts one page may pass over while filtering before it answers. */
const SCAN_BUDGET = 1000;

export function addOpsAlert(op: Deno.AtomicOperation, alert: OpsAlert): void {
  op.set(keys.opsAlert(alert.id), alert);
}

export function getOpsAlert(kv: Deno.Kv, id: string) {
  return kv.get<OpsAlert>(keys.opsAlert(id));
}

/** Replaces an alert read as `entry`; the commit fails if it changed since. */
export function addOpsAlertUpdate(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<OpsAlert>,
  next: OpsAlert,
): void {
  op.check(entry).set(keys.opsAlert(next.id), next);
}

/** The open `webhook_event_dead` alerts of one event, raised at or after `since` (ms). */
export async function openAlertsForWebhookEvent(
  kv: Deno.Kv,
  eventId: string,
  since: number,
): Promise<Deno.KvEntry<OpsAlert>[]> {
  const out: Deno.KvEntry<OpsAlert>[] = [];
  const iter = kv.list<OpsAlert>({
    prefix: keys.opsAlertsPrefix(),
    start: keys.opsAlert(idLowerBound("ops", since)),
  });
  for await (const e of iter) {
    if (e.value.status === "open" && e.value.webhook_event_id === eventId) out.push(e);
  }
  return out;
}

/** Every alert, oldest first. */
export async function listAllOpsAlerts(kv: Deno.Kv): Promise<OpsAlert[]> {
  const out: OpsAlert[] = [];
  for await (const e of kv.list<OpsAlert>({ prefix: keys.opsAlertsPrefix() })) out.push(e.value);
  return out;
}

/**
 * Newest first, `status` applied as the records are read. A page holds
 * `limit` alerts unless the scan budget ran out first; `next_cursor` then
 * continues where the scan stopped.
 */
export function listOpsAlerts(
  kv: Deno.Kv,
  sealer: CursorSealer,
  filter: { status?: OpsAlertStatus; kind?: OpsAlertKind },
  page: { limit: number; cursor?: string },
): Promise<Page<OpsAlert>> {
  const scope = `ops_alerts:${filter.status ?? ""}:${filter.kind ?? ""}`;
  return scanPage<OpsAlert, OpsAlert>(
    kv,
    sealer,
    keys.opsAlertsPrefix(),
    { ...page, scope, budget: SCAN_BUDGET },
    ({ value }) =>
      (!filter.status || value.status === filter.status) &&
        (!filter.kind || value.kind === filter.kind)
        ? value
        : null,
  );
}

/** The delivery cursor: the id of the last alert given a delivery job (null: none yet). */
export function getAlertDeliveryCursor(kv: Deno.Kv) {
  return kv.get<string>(keys.opsAlertDeliveryCursor());
}

/** Moves the delivery cursor read as `entry` (checked: one runner hands each alert over). */
export function addAlertDeliveryCursor(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntryMaybe<string>,
  alertId: string,
): void {
  op.check(entry).set(keys.opsAlertDeliveryCursor(), alertId);
}

/** Alerts raised after `afterId` (all, when null), oldest first. */
export async function listOpsAlertsAfter(
  kv: Deno.Kv,
  afterId: string | null,
  limit: number,
): Promise<OpsAlert[]> {
  const out: OpsAlert[] = [];
  const selector = afterId
    ? { prefix: keys.opsAlertsPrefix(), start: keys.opsAlert(afterId + "\u0000") }
    : { prefix: keys.opsAlertsPrefix() };
  for await (const e of kv.list<OpsAlert>(selector, { limit })) out.push(e.value);
  return out;
}
