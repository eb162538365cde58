/**
 * Authorizations about to lapse. A card authorization that is neither
 * captured nor canceled is released at Stripe's `capture_before`, after 7 days
 * when it gives none (README "Retrying failed payments"); the money is then
 * lost to the merchant. The
 * cron raises one ops alert (`authorization_expiring`) per authorization in
 * its last 24 h, in an audited commit that also marks it as alerted. The
 * alert closes in the commit that settles a capture or cancel, or when the
 * sweep finds the transaction no longer awaiting capture (README "Ops alerts").
 */
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import { systemContext } from "../../domain/actor.ts";
import { AUTHORIZATION_EXPIRY_ACTOR } from "../../domain/system_actors.ts";
import type { IdFactory } from "../../core/ids.ts";
import { authorizationExpiry } from "../../domain/authorization.ts";
import { closeOpsAlert, raiseOpsAlert } from "../ops_alerts.ts";
import { getOpsAlert, type OpsAlert } from "../../kv/ops_alerts.ts";
import type { AuditInput } from "../audit/mod.ts";
import { readTransactionState } from "../../kv/transactions.ts";
import type { Transaction, TxnSync } from "../../domain/transaction.ts";

/** The uncaptured charge (the latest), else the payment's charge; when it was authorized. */
function heldCharge(txn: Transaction, sync: TxnSync | null) {
  const held = Object.values(sync?.charges ?? {})
    .filter((c) => c.status === "succeeded" && !c.captured)
    .sort((a, b) => b.created - a.created)[0];
  return held
    ? { id: held.id, at: held.created * 1000 }
    : { id: txn.stripe_charge, at: Date.parse(txn.created) };
}

/**
 * Stripe's `capture_before` of the held charge (ms), read from Stripe once per
 * charge and kept; null when Stripe gives none or cannot be read now (README
 * "Retrying failed payments", Authorizations: 7 days then).
 */
async function captureBeforeOf(deps: Deps, txnId: string, chargeId: string | null) {
  const { kv, log } = deps;
  if (!chargeId) return null;
  const known = (await getCaptureBefore(kv, txnId)).value;
  if (known?.charge === chargeId) return known.capture_before;
  try {
    const ch = await deps.stripe.call((s) => s.charges.retrieve(chargeId), {
      priority: "background",
      label: "charges.retrieve",
    });
    const at = ch.payment_method_details?.card?.capture_before ?? null;
    const ms = at === null ? null : at * 1000;
    await setCaptureBefore(kv, txnId, { charge: chargeId, capture_before: ms });
    return ms;
  } catch (error) {
    log.warn("capture_before not read; 7 days assumed", { transaction_id: txnId, error });
    return null;
  }
}
import {
  addExpiryAlertMark,
  getCaptureBefore,
  getExpiryAlert,
  listAuthorizedTransactionIds,
  listExpiryAlertMarks,
  setCaptureBefore,
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
  const ctx = systemContext(AUTHORIZATION_EXPIRY_ACTOR);
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
  const ctx = systemContext(AUTHORIZATION_EXPIRY_ACTOR);
  await closeSettled(deps, svc, limit);
  let raised = 0;
  for (const txnId of await listAuthorizedTransactionIds(kv, limit)) {
    const { txn: entry, sync } = await readTransactionState(kv, txnId);
    const txn = entry.value;
    if (!txn || txn.status !== "requires_capture") continue;
    const held = heldCharge(txn, sync.value);
    if ((await getExpiryAlert(kv, txnId)).value) continue;
    const captureBefore = await captureBeforeOf(deps, txnId, held.id);
    const expiry = authorizationExpiry(held.at, clock.now(), captureBefore);
    if (!expiry.due_for_alert || (await getExpiryAlert(kv, txnId)).value) continue;
    const expiresAt = new Date(expiry.expires_at).toISOString();
    // another isolate's sweep may raise it first: then this commit raises nothing
    const raisedHere = await svc.audit.commit(ctx, async (op) => {
      if ((await getExpiryAlert(kv, txnId)).value) return { value: false, audit: [] };
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
              ? `capture it (POST /api/admin/payments/transactions/${txnId}/capture) or ` +
                "cancel it before then"
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
      return { value: true, audit: [entry] };
    });
    if (raisedHere) raised++;
  }
  return raised;
}
