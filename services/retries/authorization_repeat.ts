/**
 * A capture or cancel sent to a payment that already has one (README,
 * "Retrying failed payments", Authorizations): the same request by the same
 * admin (a second click, a burst) answers that action, with no Stripe call,
 * nothing written and no denied entry; any other is 409 naming what was done,
 * by whom ("you" to whoever did it) and when.
 */
import { byWhom, type CallContext } from "../../domain/actor.ts";
import { AppError } from "../../core/errors.ts";
import { NOT_SENT_CODE } from "../../domain/retry.ts";
import {
  type AuthorizationAction,
  getAuthorizationAction,
  isInCall,
} from "../../kv/authorizations.ts";
import type { ActionRequest } from "./authorization_parts.ts";

/** Thrown inside the recording commit (so nothing is written): this is `action` again. */
export class SameAction extends Error {
  constructor(readonly action: AuthorizationAction) {
    super(`the same ${action.kind} again (${action.id})`);
  }
}

/** `req` by `ctx`'s admin is the request that made `a`: same kind, amount, reason and note. */
export function isSameRequest(a: AuthorizationAction, req: ActionRequest, ctx: CallContext) {
  if (a.requested_by !== ctx.actor.id || a.kind !== req.kind) return false;
  if (req.kind === "capture") {
    // omitted: all of it, which is what was authorized when the first was recorded
    return (req.amount_to_capture ?? a.amount_authorized) === a.amount_to_capture;
  }
  return a.reason === req.reason && a.note === req.note.trim();
}

/** 409: the payment already has `id` (`earlier` as read, null if not found). */
export function alreadySent(
  id: string,
  earlier: AuthorizationAction | null,
  ctx: CallContext,
): AppError {
  return new AppError(
    "conflict",
    `this authorization was already sent a ${earlier?.kind ?? "capture or cancel"} ` +
      `(${id}, ${earlier?.status ?? "processing"}` +
      (earlier ? `, ${byWhom(earlier.requested_by, earlier.created_at, ctx)}` : "") +
      `); an authorization is captured ` +
      `or released once: follow that one at /api/admin/payments/authorizations/${id}`,
    { extra: { action_id: id, action_status: earlier?.status ?? null } },
  );
}

/** How long the first's Stripe call may be out (the gateway's 20 s timeout, and some). */
export const IN_CALL_MS = 25_000;
const POLL_MS = 20;

/**
 * The action once the first request's Stripe call is back (a burst: every
 * answer is the first's), or as it stands when that call left it unknown
 * (`processing`, settled by reconciliation) or outlived a call's time.
 */
export async function settledAction(kv: Deno.Kv, a: AuthorizationAction) {
  const started = Date.now();
  let now = a;
  while (
    now.status === "processing" && Date.now() - started < IN_CALL_MS && await isInCall(kv, a.id)
  ) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    now = (await getAuthorizationAction(kv, a.id)).value ?? now;
  }
  return now;
}

/**
 * What a repeat answers once the first's call is back: the action, or, when
 * Stripe refused it (nothing done), the refusal the first was answered with.
 */
export function repeatAnswer(a: AuthorizationAction, ctx: CallContext): AuthorizationAction {
  if (a.status !== "failed") return a;
  const extra = { action_id: a.id, action_status: a.status };
  const what = `the same ${a.kind} (${a.id}, ${byWhom(a.requested_by, a.created_at, ctx)})`;
  if (a.failure_code === NOT_SENT_CODE) {
    throw new AppError(
      "stripe_unavailable",
      `${what} was refused by Stripe for now and did nothing: the authorization is untouched; ` +
        "send the request again shortly",
      { extra, retryAfter: 1 },
    );
  }
  throw new AppError("conflict", `${what} was refused by Stripe: ${a.failure_message}`, {
    extra: { ...extra, payment_intent_status: a.stripe_status },
  });
}
