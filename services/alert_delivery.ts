/**
 * Ops alerts sent to `ALERT_WEBHOOK_URL`, at least once each: every alert
 * raised (refund trouble, dead webhooks, dispute deadlines) is handed to a
 * job record (kv/jobs.ts) by a cursor over the alerts, so the commits that
 * raise alerts stay as they are; the job POSTs the alert as JSON and is
 * retried by the job table with backoff until the receiver answers 2xx.
 * The alert id is in the body and in `Idempotency-Key`, so a receiver drops
 * repeats; with `ALERT_WEBHOOK_SECRET` the body is signed (HMAC-SHA256, hex,
 * in `X-Payops-Signature: sha256=<hex>`).
 */
import type { Deps } from "./deps.ts";
import type { IdFactory } from "../core/ids.ts";
import { hex } from "../core/encoding.ts";
import {
  ALERT_TIMEOUT_MS,
  AlertDeliveryError,
  describeFetchFailure,
  describeStatus,
} from "./alert_delivery_failure.ts";
import { addJob, type Job, type JobHandler } from "../kv/jobs.ts";
import {
  addAlertDeliveryCursor,
  getAlertDeliveryCursor,
  getOpsAlert,
  listOpsAlertsAfter,
} from "../kv/ops_alerts.ts";

export const ALERT_DELIVERY_JOB = "ops_alert.deliver";
const BATCH = 100;

async function signature(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return hex(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
}

export function createAlertDelivery(deps: Deps, svc: { newId: IdFactory }) {
  const { kv, clock, config, log } = deps;

  /** Gives each alert raised since the last call its delivery job; how many it handed over. */
  async function enqueue(): Promise<number> {
    if (!config.alertWebhookUrl) return 0;
    const cursor = await getAlertDeliveryCursor(kv);
    const alerts = await listOpsAlertsAfter(kv, cursor.value, BATCH);
    if (alerts.length === 0) return 0;
    const op = kv.atomic();
    for (const a of alerts) {
      addJob(op, clock, svc.newId, ALERT_DELIVERY_JOB, { alert_id: a.id }, { maxAttempts: 12 });
    }
    addAlertDeliveryCursor(op, cursor, alerts[alerts.length - 1].id);
    // a lost race means another runner handed these over
    return (await op.commit()).ok ? alerts.length : 0;
  }

  async function deliver(job: Job): Promise<void> {
    const url = config.alertWebhookUrl;
    if (!url) return;
    const { alert_id } = job.payload as { alert_id: string };
    const alert = (await getOpsAlert(kv, alert_id)).value;
    if (!alert) return;
    const body = JSON.stringify({ type: "ops_alert", ...alert });
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "idempotency-key": alert.id,
    };
    if (config.alertWebhookSecret) {
      headers["x-payops-signature"] = `sha256=${await signature(config.alertWebhookSecret, body)}`;
    }
    // a failure names the host (never the path, query or userinfo), the cause and what to check
    const res = await fetch(url, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(ALERT_TIMEOUT_MS),
    }).catch((error) => {
      throw new AlertDeliveryError(url, alert.id, describeFetchFailure(url, error));
    });
    await res.body?.cancel();
    if (!res.ok) throw new AlertDeliveryError(url, alert.id, describeStatus(res.status));
    log.info("ops alert delivered", { alert_id: alert.id, status: res.status });
  }

  const handlers: Record<string, JobHandler> = { [ALERT_DELIVERY_JOB]: deliver };
  return { enqueue, handlers };
}

export type AlertDelivery = ReturnType<typeof createAlertDelivery>;
