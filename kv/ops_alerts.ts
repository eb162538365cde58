/**
 * Ops alerts: money problems an operator must look at (a refund Stripe failed
 * after reporting it succeeded, a refund Stripe never received). Raised inside
 * the commit that finds the problem; closed by an operator with a note.
 *
 *   ["ops_alerts", id] -> OpsAlert   (ids are `ops_` ULIDs: time order)
 *
 * They are rare, so the listing walks the records themselves, newest first,
 * and filters by status as it goes (no index to keep in step).
 */
import { keys } from "./keys.ts";
import { type CursorSealer, type Page, scanPage } from "./pagination.ts";

export const OPS_ALERT_STATUSES = ["open", "closed"] as const;
export type OpsAlertStatus = typeof OPS_ALERT_STATUSES[number];

export interface OpsAlert {
  id: string;
  kind: "refund_failed_after_success" | "refund_lost_at_stripe";
  refund_id: string;
  transaction_id: string;
  stripe_refund: string | null;
  amount: number;
  currency: string;
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
  filter: { status?: OpsAlertStatus },
  page: { limit: number; cursor?: string },
): Promise<Page<OpsAlert>> {
  const scope = `ops_alerts:${filter.status ?? ""}`;
  return scanPage<OpsAlert, OpsAlert>(
    kv,
    sealer,
    keys.opsAlertsPrefix(),
    { ...page, scope, budget: SCAN_BUDGET },
    ({ value }) => !filter.status || value.status === filter.status ? value : null,
  );
}
