/**
 * What finishing an authorization works with: the action asked for, how an
 * attempt ended, and what the PaymentIntent's state says about it.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { AuditService } from "../audit/mod.ts";
import type { IdFactory } from "../../core/ids.ts";
import type { CancellationReason } from "../../domain/retry.ts";
import type { AuthorizationAction } from "../../kv/authorizations.ts";
import type { RetryConfirmer } from "./confirm.ts";

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

export function requestIdOf(obj: unknown): string | null {
  return (obj as { lastResponse?: { requestId?: string } }).lastResponse?.requestId ?? null;
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
