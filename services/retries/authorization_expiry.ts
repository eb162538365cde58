/**
 * Authorizations about to lapse. A card authorization that is neither
 * captured nor canceled is released by the issuer after 7 days (README
 * "Retrying failed payments"); the money is then lost to the merchant. The
 * cron raises one ops alert (`authorization_expiring`) per authorization in
 * its last 24 h, in an audited commit that also marks it as alerted. The
 * alert closes in the commit that settles a capture or cancel, or when the
 * sweep finds the transaction no longer awaiting capture (README "Ops alerts").
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import { systemContext } from "../../domain/actor.ts";
import type { IdFactory } from "../../core/ids.ts";
import { authorizationExpiry } from "../../domain/authorization.ts";
import { closeOpsAlert, raiseOpsAlert } from "../ops_alerts.ts";
import { getOpsAlert, type OpsAlert } from "../../kv/ops_alerts.ts";
import type { AuditInput } from "../audit/mod.ts";
import { readTransactionState } from "../../kv/transactions.ts";
import type { TxnSync } from "../../domain/transaction.ts";

/** When the card was authorized: the uncaptured charge's time, else the payment's. */
function authorizedAt(created: string, sync: TxnSync | null): number {
  const held = Object.values(sync?.charges ?? {})
    .filter((c) => c.status === "succeeded" && !c.captured)
    .map((c) => c.created * 1000);
  return held.length ? Math.max(...held) : Date.parse(created);
}
import {
  addExpiryAlertMark,
  getExpiryAlert,
  listAuthorizedTransactionIds,
  listExpiryAlertMarks,
} from "../../kv/authorizations.ts";
import { formatMoney } from "../../domain/money.ts";

/** Closes the transaction's open expiry alert inside the caller's commit; its audit entries. */
export async function closeExpiryAlert(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  txnId: string,
  by: string,
  note: string,
  at: string,
): Promise<AuditInput[]> {
  const mark = (await getExpiryAlert(kv, txnId)).value;
  if (!mark) return [];
  const entry = await getOpsAlert(kv, mark);
  if (entry.value?.status !== "open") return [];
  return [closeOpsAlert(op, entry as Deno.KvEntry<OpsAlert>, by, note, at).audit];
}

/** Closes the open expiry alerts of transactions no longer awaiting capture; the number closed. */
async function closeSettled(deps: Deps, svc: { audit: AuditService }, limit: number) {
  const { kv, clock } = deps;
  const ctx = systemContext("cron:authorization_expiry");
  let closed = 0;
  for (const [txnId, alertId] of await listExpiryAlertMarks(kv, limit)) {
    if ((await getOpsAlert(kv, alertId)).value?.status !== "open") continue;
    const status = (await readTransactionState(kv, txnId)).txn.value?.status;
    if (!status || status === "requires_capture") continue;
    await svc.audit.commit(ctx, async (op) => {
      const at = new Date(clock.now()).toISOString();
      const audit = await closeExpiryAlert(
        kv,
        op,
        txnId,
        ctx.actor.id,
        `the payment is ${status}`,
        at,
      );
      closed += audit.length;
      return { value: null, audit };
    });
  }
  return closed;
}

/** Raises one ops alert per authorization within 24 h of lapsing; the number raised. */
export async function sweepExpiringAuthorizations(
  deps: Deps,
  svc: { audit: AuditService; newId: IdFactory },
  limit = 1000,
): Promise<number> {
  const { kv, clock, log } = deps;
  const ctx = systemContext("cron:authorization_expiry");
  await closeSettled(deps, svc, limit);
  let raised = 0;
  for (const txnId of await listAuthorizedTransactionIds(kv, limit)) {
    const { txn: entry, sync } = await readTransactionState(kv, txnId);
    const txn = entry.value;
    if (!txn || txn.status !== "requires_capture") continue;
    const expiry = authorizationExpiry(authorizedAt(txn.created, sync.value), clock.now());
    if (!expiry.due_for_alert || (await getExpiryAlert(kv, txnId)).value) continue;
    const expiresAt = new Date(expiry.expires_at).toISOString();
    await svc.audit.commit(ctx, async (op) => {
      if ((await getExpiryAlert(kv, txnId)).value) return { value: null, audit: [] };
      const at = new Date(clock.now()).toISOString();
      const entry = raiseOpsAlert(
        op,
        { newId: svc.newId, log },
        {
          kind: "authorization_expiring",
          transaction_id: txnId,
          amount: txn.amount,
          currency: txn.currency,
          detail: `the authorization of ${formatMoney(txn.amount, txn.currency)} on ${txnId} ` +
            `lapses at ${expiresAt}: ` + (txn.stripe_payment_intent
              ? `capture it (POST /transactions/${txnId}/capture) or cancel it before then`
              // a charge without a PaymentIntent: README "Transactions and money edges"
              : `capture or release the charge ${
                txn.stripe_charge ?? txnId
              } in the Stripe Dashboard ` +
                "before then (it has no PaymentIntent, so it cannot be captured here)"),
        },
        at,
        { type: "transaction", id: txnId },
      );
      addExpiryAlertMark(op, txnId, (entry.after as { alert_id: string }).alert_id);
      return { value: null, audit: [entry] };
    });
    raised++;
  }
  return raised;
}
