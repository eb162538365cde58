import { sweep } from "./clock.ts";
import { authenticate } from "./confirm.ts";
import { backgroundCtx, type ServerDeps } from "./deps.ts";
import { resolveDispute } from "./disputes.ts";
import { escalateDispute, extendDisputeDeadline } from "./dispute_moves.ts";
import { invalidRequest } from "./errors.ts";
import { settleRefund } from "./refunds.ts";
import type { Ctx } from "./context.ts";
import { getOr404, type StripeObject } from "./store.ts";

type HeaderMap = Record<string, string>;

function json(status: number, body: unknown, headers: HeaderMap): Response {
  return new Response(JSON.stringify(body, null, 2), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/**
 * `/_emulator/...`: test controls (faults, webhook delivery held and released in a burst,
 * dispute outcomes and deadlines, 3D Secure, the clock).
 */
export async function control(
  deps: ServerDeps,
  req: Request,
  path: string,
  headers: HeaderMap,
): Promise<Response> {
  if (path === "/_emulator/faults" && req.method === "DELETE") {
    deps.faults.clear();
    return json(200, { cleared: true }, headers);
  }
  const body = req.method === "POST" ? await req.json().catch(() => ({})) : {};
  if (path === "/_emulator/faults" && req.method === "POST") {
    const handle = deps.faults.inject({
      kind: body.kind,
      method: body.method,
      path: body.path_pattern ? new RegExp(body.path_pattern) : body.path,
      times: body.times,
      ms: body.ms,
    });
    return json(200, { id: handle.id, remaining: handle.remaining() }, headers);
  }
  if (path === "/_emulator/webhooks/hold" && req.method === "POST") {
    deps.bus.hold();
    return json(200, { held: deps.bus.heldCount() }, headers);
  }
  if (path === "/_emulator/webhooks/release" && req.method === "POST") {
    if (body.order !== undefined && body.order !== "created" && body.order !== "reverse") {
      throw invalidRequest("order must be 'created' or 'reverse'", { param: "order" });
    }
    const released = deps.bus.release({ order: body.order, duplicate: body.duplicate === true });
    return json(200, { released }, headers);
  }
  const answer = req.method === "POST" ? stateControl(deps, path, body) : null;
  if (answer) {
    deps.onChange();
    return json(200, answer, headers);
  }
  throw invalidRequest(`Unknown emulator control endpoint (${req.method}: ${path}).`, {
    status: 404,
  });
}

/**
 * Test controls that change state: settle, escalate or extend a dispute, settle a refund,
 * finish 3D Secure, move the clock.
 */
function stateControl(
  deps: ServerDeps,
  path: string,
  body: Record<string, unknown>,
): StripeObject | null {
  const ctx = backgroundCtx(deps);
  let m = /^\/_emulator\/disputes\/([^/]+)\/resolve$/.exec(path);
  if (m) {
    if (body.outcome !== "won" && body.outcome !== "lost") {
      throw invalidRequest("outcome must be 'won' or 'lost'", { param: "outcome" });
    }
    return resolveDispute(ctx, m[1], body.outcome);
  }
  m = /^\/_emulator\/disputes\/([^/]+)\/escalate$/.exec(path);
  if (m) return escalateDispute(ctx, m[1], { due_by: body.due_by as number | undefined });
  m = /^\/_emulator\/disputes\/([^/]+)\/extend$/.exec(path);
  if (m) return extendDisputeDeadline(ctx, m[1], extendedTo(ctx, m[1], body));
  m = /^\/_emulator\/refunds\/([^/]+)\/settle$/.exec(path);
  if (m) {
    if (body.outcome !== "succeeded" && body.outcome !== "failed") {
      throw invalidRequest("outcome must be 'succeeded' or 'failed'", { param: "outcome" });
    }
    return settleRefund(ctx, m[1], body.outcome);
  }
  m = /^\/_emulator\/payment_intents\/([^/]+)\/authenticate$/.exec(path);
  if (m) {
    if (body.outcome !== "succeed" && body.outcome !== "fail") {
      throw invalidRequest("outcome must be 'succeed' or 'fail'", { param: "outcome" });
    }
    return authenticate(ctx, m[1], body.outcome === "succeed");
  }
  if (path === "/_emulator/clock") {
    const seconds = Number(body.advance_seconds ?? 0);
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw invalidRequest("advance_seconds must be a non-negative number", {
        param: "advance_seconds",
      });
    }
    return advanceClock(deps, seconds);
  }
  return null;
}

/**
 * The new deadline an extend control names: `due_by` (Unix seconds), or `extend_seconds` added
 * to the current one; exactly one of them.
 */
function extendedTo(ctx: Ctx, id: string, body: Record<string, unknown>): number {
  const hasDue = body.due_by !== undefined;
  if (hasDue === (body.extend_seconds !== undefined)) {
    throw invalidRequest("give exactly one of due_by (Unix seconds) or extend_seconds", {
      param: hasDue ? "extend_seconds" : "due_by",
    });
  }
  if (hasDue) return body.due_by as number;
  const seconds = body.extend_seconds;
  if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds <= 0) {
    throw invalidRequest("extend_seconds must be a positive whole number of seconds", {
      param: "extend_seconds",
    });
  }
  const current = getOr404(ctx.store, "disputes", id).evidence_details.due_by;
  return (current ?? 0) + seconds;
}

/** Moves the emulator's clock forward and lets Stripe's time-driven changes happen. */
export function advanceClock(deps: ServerDeps, seconds: number): StripeObject {
  deps.clock.offsetMs += seconds * 1000;
  sweep(backgroundCtx(deps));
  return { object: "emulator.clock", now: Math.floor(deps.now() / 1000) };
}
