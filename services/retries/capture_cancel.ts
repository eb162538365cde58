/**
 * Capturing or cancelling an authorized payment (POST /transactions/{id}/capture
 * and /cancel) and reading the action back (GET /authorizations/{id}): the
 * routes' side of services/retries/authorizations.ts, with the client's
 * `Idempotency-Key` wrapped around it as on refunds and retries.
 */
import type { Deps } from "../deps.ts";
import type { CancellationReason } from "../../domain/authorization.ts";
import type { CallContext } from "../../domain/actor.ts";
import { notFound } from "../../core/errors.ts";
import {
  type IdempotencyScope,
  idempotencyScope,
  processingIn,
  requestFingerprint,
  runIdempotent,
} from "../../kv/idempotency.ts";
import {
  type AuthorizationAction,
  clearInCallMark,
  getAuthorizationAction,
} from "../../kv/authorizations.ts";
import { repeatAnswer, settledAction } from "./authorization_repeat.ts";
import { NOT_SENT_CODE } from "../../domain/retry.ts";
import type { ActionRequest, Authorizations } from "./authorizations.ts";
import { type AuthorizationView, authorizationView } from "./views.ts";

interface CaptureCancelParts extends Pick<Deps, "kv" | "clock"> {
  authorizations: Authorizations;
}

/**
 * POST /transactions/{id}/capture and /cancel: the action (`processing` while
 * unknown). The same request sent again by whoever made the action answers it
 * (`replayed`), once its first call is back (README "Retrying failed payments").
 */
async function finishAuthorization(
  p: CaptureCancelParts,
  ctx: CallContext,
  txnId: string,
  req: ActionRequest,
) {
  const { kv, clock, authorizations } = p;
  const fingerprint = await requestFingerprint({ txnId, ...req });
  const scope: IdempotencyScope | null = idempotencyScope(
    ctx,
    `POST /transactions/{id}/${req.kind}`,
  );
  const view = (a: AuthorizationAction) => ({ body: authorizationView(a) });
  let repeated = false;
  const r = await runIdempotent(kv, clock, scope, fingerprint, {
    run: async (binding) => {
      const { action, repeated: again } = await authorizations.record(ctx, txnId, req, binding);
      if (again) {
        repeated = true;
        return view(repeatAnswer(await settledAction(kv, action), ctx));
      }
      try {
        return view(await authorizations.send(ctx, action));
      } finally {
        await clearInCallMark(kv, action.id).catch(() => {}); // else it lapses by itself
      }
    },
    resume: async (id) => {
      const a = (await getAuthorizationAction(kv, id)).value;
      if (!a) throw notFound("authorization action", id);
      // closed because Stripe asked to try again before acting: the key makes a new one
      if (a.status === "failed" && a.failure_code === NOT_SENT_CODE) return null;
      return view(a);
    },
    // the key still held by the request that made the action (running, or dead mid-call):
    // answered as that request sent again without a key is, once its Stripe call is back
    asItStands: async (id) => {
      const first = (await getAuthorizationAction(kv, id)).value;
      if (!first) return null;
      const a = await settledAction(kv, first);
      // closed because Stripe asked to try again: nothing to answer, the key acts once free
      if (a.status === "failed" && a.failure_code === NOT_SENT_CODE) return null;
      return { ...view(repeatAnswer(a, ctx)), settled: a.status !== "processing" };
    },
    // a stored 202 (the action `processing`: Stripe's outcome unknown then) sent again: the
    // action as it stands now, as GET /authorizations/{id} shows it; the key's once settled
    inProgress: async (stored) => {
      const id = processingIn(stored);
      const a = id === null ? null : (await getAuthorizationAction(kv, id)).value;
      return a ? { ...view(a), settled: a.status !== "processing" } : null;
    },
  });
  return { action: r.body as AuthorizationView, replayed: r.replayed || repeated };
}

/** GET /authorizations/{id}: a capture or cancel as it stands (`processing` until settled). */
async function getAuthorization(p: CaptureCancelParts, id: string): Promise<AuthorizationView> {
  const a = (await getAuthorizationAction(p.kv, id)).value;
  if (!a) throw notFound("capture or cancel", id);
  return authorizationView(a);
}

export function createCaptureCancel(
  deps: Pick<Deps, "kv" | "clock">,
  authorizations: Authorizations,
) {
  const p: CaptureCancelParts = { kv: deps.kv, clock: deps.clock, authorizations };
  return {
    getAuthorization: (id: string) => getAuthorization(p, id),
    capture: (ctx: CallContext, txnId: string, body: { amount_to_capture?: number }) =>
      finishAuthorization(p, ctx, txnId, { kind: "capture", ...body }),
    cancel: (
      ctx: CallContext,
      txnId: string,
      body: { reason: CancellationReason; note: string },
    ) => finishAuthorization(p, ctx, txnId, { kind: "cancel", ...body }),
  };
}
