/**
 * Captures and cancels of authorizations (PaymentIntents in `requires_capture`).
 *
 *   ["authorization_actions", id]                      -> AuthorizationAction
 *   ["authorization_actions_by_transaction", txn]      -> id   (one that counts per payment)
 *   ["authorization_actions_by_status", status, id]    -> id
 *   ["authorization_actions_in_call", id]               -> true while its first call is out
 *   ["authorization_expiry_alerts", txn]               -> ops alert id (raised once)
 *   ["authorization_capture_before", txn]              -> Stripe's capture_before, read once
 *
 * The per-payment key is created with `versionstamp: null` in the commit that
 * records the action: of two operators clicking capture and cancel at once,
 * one commits and the other is told what was done. A definite refusal by
 * Stripe removes it, so the authorization can be acted on again.
 */
import { keys } from "./keys.ts";
import type { CancellationReason } from "../domain/authorization.ts";

export const AUTHORIZATION_ACTION_STATUSES = ["processing", "succeeded", "failed"] as const;
export type AuthorizationActionStatus = typeof AUTHORIZATION_ACTION_STATUSES[number];

export interface AuthorizationAction {
  id: string;
  kind: "capture" | "cancel";
  transaction_id: string;
  stripe_payment_intent: string;
  currency: string;
  /** what was authorized (the PaymentIntent's amount) */
  amount_authorized: number;
  /** capture only: what is taken (the rest is released) */
  amount_to_capture: number | null;
  /** cancel only */
  reason: CancellationReason | null;
  note: string | null;
  status: AuthorizationActionStatus;
  stripe_status: string | null;
  failure_code: string | null;
  failure_message: string | null;
  stripe_request_id: string | null;
  /** every call of this action carries it (`authorization:<id>`) */
  stripe_idempotency_key: string;
  requested_by: string;
  job: { id: string; due_at: number } | null;
  created_at: string;
  updated_at: string;
  settled_at: string | null;
}

export function getAuthorizationAction(kv: Deno.Kv, id: string) {
  return kv.get<AuthorizationAction>(keys.authorizationAction(id));
}

export function getActionOfTransaction(kv: Deno.Kv, txnId: string) {
  return kv.get<string>(keys.authorizationActionByTransaction(txnId));
}

export function addCreateAuthorizationAction(op: Deno.AtomicOperation, a: AuthorizationAction) {
  op.check({ key: keys.authorizationAction(a.id), versionstamp: null })
    .check({ key: keys.authorizationActionByTransaction(a.transaction_id), versionstamp: null })
    .set(keys.authorizationAction(a.id), a)
    .set(keys.authorizationActionByTransaction(a.transaction_id), a.id)
    .set(keys.authorizationActionsByStatus(a.status, a.id), a.id);
}

/**
 * Marks the action's first Stripe call as out (in its recording commit), so
 * the same request sent meanwhile waits for that call's answer; it lapses by
 * itself should the process die mid-call.
 */
export function addInCallMark(op: Deno.AtomicOperation, id: string, ms: number) {
  op.set(keys.authorizationInCall(id), true, { expireIn: ms });
}

export async function isInCall(kv: Deno.Kv, id: string): Promise<boolean> {
  return (await kv.get(keys.authorizationInCall(id))).value !== null;
}

export async function clearInCallMark(kv: Deno.Kv, id: string): Promise<void> {
  await kv.delete(keys.authorizationInCall(id));
}

export function addUpdateAuthorizationAction(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<AuthorizationAction>,
  next: AuthorizationAction,
) {
  op.check(entry).set(keys.authorizationAction(next.id), next);
  if (entry.value.status !== next.status) {
    op.delete(keys.authorizationActionsByStatus(entry.value.status, next.id))
      .set(keys.authorizationActionsByStatus(next.status, next.id), next.id);
  }
  // Refused by Stripe: nothing happened, the authorization may be acted on again.
  if (next.status === "failed") {
    op.delete(keys.authorizationActionByTransaction(next.transaction_id));
  }
}

export async function listAuthorizationActionIds(
  kv: Deno.Kv,
  status: AuthorizationActionStatus,
  limit: number,
): Promise<string[]> {
  const ids: string[] = [];
  const rows = kv.list<string>({ prefix: keys.authorizationActionsByStatusPrefix(status) }, {
    limit,
  });
  for await (const e of rows) ids.push(e.value);
  return ids;
}

export function getExpiryAlert(kv: Deno.Kv, txnId: string) {
  return kv.get<string>(keys.authorizationExpiryAlert(txnId));
}

export function addExpiryAlertMark(op: Deno.AtomicOperation, txnId: string, alertId: string) {
  op.check({ key: keys.authorizationExpiryAlert(txnId), versionstamp: null })
    .set(keys.authorizationExpiryAlert(txnId), alertId, { expireIn: 30 * 24 * 3600_000 });
}

/** When the held charge lapses, as Stripe said (`capture_before`, ms; null: not given). */
export interface CaptureBefore {
  charge: string;
  capture_before: number | null;
}

export function getCaptureBefore(kv: Deno.Kv, txnId: string) {
  return kv.get<CaptureBefore>(keys.authorizationCaptureBefore(txnId));
}

export async function setCaptureBefore(kv: Deno.Kv, txnId: string, v: CaptureBefore) {
  await kv.set(keys.authorizationCaptureBefore(txnId), v, { expireIn: 30 * 24 * 3600_000 });
}

/** Transactions whose expiry alert was raised (marks kept 30 days): `[txnId, alertId]`. */
export async function listExpiryAlertMarks(
  kv: Deno.Kv,
  limit: number,
): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const rows = kv.list<string>({ prefix: keys.authorizationExpiryAlertsPrefix() }, { limit });
  for await (const e of rows) out.push([String(e.key[1]), e.value]);
  return out;
}

/** Transactions in `requires_capture`, oldest first (the expiry sweep). */
export async function listAuthorizedTransactionIds(kv: Deno.Kv, limit: number): Promise<string[]> {
  const ids: string[] = [];
  const rows = kv.list<string>({ prefix: keys.transactionsByStatusPrefix("requires_capture") }, {
    limit,
  });
  for await (const e of rows) ids.push(e.value);
  return ids;
}
