/**
 * Refunds answering a fraud alert (`fraud_alert_id`, reason `fraudulent`):
 * the payments of an alert resolved `resolved_legitimate` are not refunded
 * as fraudulent (README "Fraud detection": workflow). Checked in the commit
 * that asks for one and in the commit that approves one, against the
 * alert's record (checked too, so a resolution landing in between makes the
 * commit run again and see it); resolving the alert voids those still
 * waiting for a second person, unless the resolver may not decide one of them
 * (its requester, or an account linked to them): then the resolution is refused.
 */
import type { CallContext } from "../../domain/actor.ts";
import type { RefundRecord } from "../../domain/refund.ts";
import type { FraudAlert } from "../../domain/fraud.ts";
import { AppError } from "../../core/errors.ts";
import { getAlert } from "../../kv/fraud.ts";
import { listTransactionRefunds } from "../../kv/refunds.ts";
import type { RefundSubmitter } from "./submit.ts";
import { deciderRefusal } from "./deciders.ts";

/**
 * Refuses (409) a fraudulent refund of an alert resolved legitimate; checks the
 * alert in `op` and returns its entry.
 */
export async function assertAlertNotLegitimate(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  alertId: string,
  what: string,
): Promise<Deno.KvEntryMaybe<FraudAlert>> {
  const entry = await getAlert(kv, alertId);
  op.check(entry);
  if (entry.value?.status !== "resolved_legitimate") return entry;
  throw new AppError(
    "conflict",
    `${what} answers fraud alert ${alertId}, which is resolved_legitimate: its payments were ` +
      "judged legitimate and are not refunded as fraudulent; refund the payment through " +
      "POST /api/admin/payments/refunds with another reason if it is owed",
    { extra: { fraud_alert_legitimate: true, fraud_alert_id: alertId } },
  );
}

/** Whether a refund is one the check above applies to. */
export function answersFraudAlert(r: Pick<RefundRecord, "fraud_alert_id" | "reason">): boolean {
  return r.fraud_alert_id !== null && r.reason === "fraudulent";
}

/** How a refund of an alert resolved legitimate ends: rejected, by whoever resolved (or tried). */
export function voidOutcome(ctx: CallContext, alertId: string, why: string) {
  return {
    status: "rejected" as const,
    from: ["awaiting_approval" as const],
    action: "refund.void",
    reason: `void: fraud alert ${alertId} is resolved_legitimate (${why})`,
    decided_by: ctx.actor.id,
  };
}

/** Who voids, the alert (its id and payments), and the resolution's note. */
export type AlertVoid = [
  ctx: CallContext,
  alert: { id: string; transactions: string[] },
  note: string,
];

/**
 * Ends the fraudulent refunds asked for through `alert` (linked to it) that
 * wait for approval (the alert was just resolved legitimate), each audited
 * `refund.void`; returns their ids. Read through each payment's refunds.
 */
export async function voidRefundsOfAlert(
  kv: Deno.Kv,
  submitter: Pick<RefundSubmitter, "release">,
  ...[ctx, alert, note]: AlertVoid
): Promise<string[]> {
  const ended: string[] = [];
  for (const r of await awaitingOfAlert(kv, alert)) {
    const done = await submitter.release(ctx, r.id, voidOutcome(ctx, alert.id, note));
    if (done) ended.push(r.id);
  }
  return ended;
}

/** The alert's fraudulent refunds awaiting approval (linked to it), read through its payments. */
async function awaitingOfAlert(
  kv: Deno.Kv,
  alert: { id: string; transactions: string[] },
): Promise<RefundRecord[]> {
  const out: RefundRecord[] = [];
  for (const txnId of alert.transactions) {
    for (const r of await listTransactionRefunds(kv, txnId)) {
      if (
        r.status === "awaiting_approval" && r.fraud_alert_id === alert.id && answersFraudAlert(r)
      ) {
        out.push(r);
      }
    }
  }
  return out;
}

/**
 * Why `ctx` may not resolve `alert` legitimate (409), or null: resolving it rejects its refunds
 * awaiting approval, and a refund is not withdrawn by its requester, nor decided by an account
 * linked to them (README, "Two-person rules"), judged as a rejection of each is. Asked in the
 * resolution's commit, before anything is written.
 */
export async function alertResolutionRefusal(
  kv: Deno.Kv,
  ctx: CallContext,
  alert: { id: string; transactions: string[] },
): Promise<AppError | null> {
  const blocked: { id: string; why: string; expires_at: string | null }[] = [];
  for (const r of await awaitingOfAlert(kv, alert)) {
    const refused = await deciderRefusal(kv, r, ctx, false);
    if (!refused) continue;
    const why = r.requested_by === ctx.actor.id
      ? "you requested it"
      : `requested by ${r.requested_by}, an account linked to you`;
    blocked.push({ id: r.id, why, expires_at: r.expires_at });
  }
  if (!blocked.length) return null;
  const list = blocked.map((b) => `${b.id} (${b.why}; approval deadline ${b.expires_at})`);
  return new AppError(
    "conflict",
    `fraud alert ${alert.id} has refunds awaiting approval that you may not decide: ` +
      `${list.join(", ")}. Resolving it resolved_legitimate would reject them, and a refund is ` +
      "not withdrawn by its requester nor decided by an account linked to them: another " +
      "operator or admin, not linked to the requester, resolves the alert or decides the " +
      "refunds (POST /api/admin/payments/refunds/{id}/approve or /reject), or they expire at " +
      "their deadline; nothing was changed",
    { extra: { awaiting_refunds: blocked.map((b) => b.id) } },
  );
}
