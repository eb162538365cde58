/**
 * What finishing an authorization works with: the action asked for, how an
 * attempt ended, and what the PaymentIntent's state says about it.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { CancellationReason } from "../../domain/authorization.ts";
import type { AuthorizationAction } from "../../kv/authorizations.ts";
import type { RetryConfirmer } from "./confirm.ts";
import type { Transaction } from "../../domain/transaction.ts";
import { AppError, validationFailed } from "../../core/errors.ts";
import { formatMoney, minorUnitProblem } from "../../domain/money.ts";

export type ActionRequest =
  | { kind: "capture"; amount_to_capture?: number }
  | { kind: "cancel"; reason: CancellationReason; note: string };

export interface Outcome {
  status: "succeeded" | "failed";
  stripe_status: string | null;
  failure_code?: string | null;
  failure_message?: string | null;
  stripe_request_id?: string | null;
}

/** What the PaymentIntent's state says about the action, or null when it says nothing yet. */
export function outcomeOfPi(a: AuthorizationAction, pi: Stripe.PaymentIntent): Outcome | null {
  const wanted = a.kind === "capture" ? "succeeded" : "canceled";
  if (pi.status === wanted) return { status: "succeeded", stripe_status: pi.status };
  if (pi.status === "requires_capture") return null;
  return {
    status: "failed",
    stripe_status: pi.status,
    failure_code: "payment_intent_unexpected_state",
    failure_message: `the PaymentIntent became ${pi.status} without this ${a.kind}`,
  };
}

export interface AuthorizationServices {
  audit: AuditService;
  newId: IdFactory;
  confirmer: RetryConfirmer;
}

/** What capturing and cancelling work with. */
export interface AuthParts {
  kv: Deno.Kv;
  clock: Deps["clock"];
  log: Deps["log"];
  deps: Deps;
  svc: AuthorizationServices;
}

/**
 * What may be done to the payment: only a PaymentIntent in `requires_capture`,
 * and a capture of at most what was authorized.
 */
export function actionableAmounts(
  txnId: string,
  txn: Transaction,
  status: string,
  req: ActionRequest,
) {
  if (!txn.stripe_payment_intent) {
    // README "Transactions and money edges": a charge made without a PaymentIntent.
    throw new AppError(
      "conflict",
      `transaction ${txnId} is a charge made without a PaymentIntent (${
        txn.stripe_charge ?? txnId
      }); ` +
        "it cannot be captured or canceled here: capture or release it in the Stripe Dashboard",
      { extra: { payment_intent_status: null, charge_status: status } },
    );
  }
  if (status !== "requires_capture") {
    throw new AppError(
      "conflict",
      `transaction ${txnId} is ${status}; only an authorization (a PaymentIntent in ` +
        "requires_capture) can be captured or canceled",
      { extra: { payment_intent_status: status } },
    );
  }
  const capturable = txn.amount_capturable || txn.amount;
  const amount = req.kind === "capture" ? req.amount_to_capture ?? capturable : null;
  if (amount !== null && amount > capturable) {
    throw validationFailed([{
      path: "body.amount_to_capture",
      message: `amount_to_capture must be at most the authorized ${capturable} (${
        formatMoney(capturable, txn.currency)
      }); omit amount_to_capture to capture all of it`,
    }]);
  }
  // README "Transactions and money edges": the currency's minor unit, as for refunds
  const asked = req.kind === "capture" ? req.amount_to_capture : undefined;
  const unit = asked === undefined ? null : minorUnitProblem(asked, txn.currency);
  if (unit) throw validationFailed([{ path: "body.amount_to_capture", message: unit }]);
  return { paymentIntent: txn.stripe_payment_intent, capturable, amount };
}

/** A new action as recorded before the call: processing, its job, its Stripe idempotency key. */
export function newAuthorizationAction(
  init: {
    id: string;
    txn: Transaction;
    req: ActionRequest;
    paymentIntent: string;
    capturable: number;
    amount: number | null;
    requestedBy: string;
    job: AuthorizationAction["job"] & object;
    iso: string;
  },
): AuthorizationAction {
  const { id, txn, req, iso } = init;
  return {
    id,
    kind: req.kind,
    transaction_id: txn.id,
    stripe_payment_intent: init.paymentIntent,
    currency: txn.currency,
    amount_authorized: init.capturable,
    amount_to_capture: init.amount,
    reason: req.kind === "cancel" ? req.reason : null,
    note: req.kind === "cancel" ? req.note.trim() : null,
    status: "processing",
    stripe_status: null,
    failure_code: null,
    failure_message: null,
    stripe_request_id: null,
    stripe_idempotency_key: `authorization:${id}`,
    requested_by: init.requestedBy,
    job: init.job,
    created_at: iso,
    updated_at: iso,
    settled_at: null,
  };
}
