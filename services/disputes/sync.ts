/**
 * Pulling disputes from Stripe (`POST /disputes/sync`): every dispute, paged
 * at background priority so admins' calls keep the budget, or one by id. Each
 * is applied like a webhook (services/disputes/apply.ts): what is already
 * known changes nothing, so running it twice equals running it once.
 */
import type Stripe from "stripe";
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { DisputeApplier } from "./apply.ts";
import { AppError } from "../../core/errors.ts";

export interface SyncSummary {
  /** disputes read from Stripe */
  seen: number;
  /** of those, the ones that changed something here */
  changed: number;
  pages: number;
  /** the one dispute asked for (`{dispute_id}`) */
  dispute_id: string | null;
}

const MAX_PAGES = 1000;

/** Stripe answered 404 (`resource_missing`): it has no such dispute. */
function stripeSaysMissing(e: unknown): boolean {
  if (!(e instanceof AppError)) return false;
  const cause = e.cause as { statusCode?: number; code?: string } | undefined;
  const info = (e.extra?.stripe ?? null) as { http_status?: number; code?: string } | null;
  return cause?.statusCode === 404 || cause?.code === "resource_missing" ||
    info?.http_status === 404 || info?.code === "resource_missing";
}

export function createDisputeSync(deps: Deps, svc: { applyDispute: DisputeApplier }) {
  const { log } = deps;

  async function applyAll(ctx: CallContext, list: Stripe.Dispute[], summary: SyncSummary) {
    for (const d of list) {
      summary.seen++;
      if ((await svc.applyDispute(ctx, d)).applied) summary.changed++;
    }
  }

  /** 404 for a dispute id Stripe does not know: the id, or the key's account or mode, is off. */
  function unknownAtStripe(stripeId: string): AppError {
    const fix = "check the id (du_…, as GET /api/admin/payments/disputes or Stripe's dashboard " +
      "shows it) and that " +
      "STRIPE_SECRET_KEY is the key of the account, and mode (test or live), it belongs to";
    return new AppError("not_found", `Stripe has no dispute ${stripeId}: ${fix}`, {
      errors: [{ path: "body.dispute_id", message: `Stripe has no dispute ${stripeId}` }],
    });
  }

  async function syncOne(ctx: CallContext, stripeId: string): Promise<SyncSummary> {
    const summary: SyncSummary = { seen: 0, changed: 0, pages: 0, dispute_id: stripeId };
    let d: Stripe.Dispute;
    try {
      d = await deps.stripe.call((s) => s.disputes.retrieve(stripeId), {
        label: "disputes.retrieve",
      });
    } catch (e) {
      if (stripeSaysMissing(e)) throw unknownAtStripe(stripeId);
      throw e;
    }
    await applyAll(ctx, [d], summary);
    return summary;
  }

  async function syncAll(ctx: CallContext): Promise<SyncSummary> {
    const summary: SyncSummary = { seen: 0, changed: 0, pages: 0, dispute_id: null };
    let startingAfter: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const list = await deps.stripe.call(
        (s) =>
          s.disputes.list({
            limit: 100,
            ...(startingAfter ? { starting_after: startingAfter } : {}),
          }),
        { priority: "background", label: "disputes.list" },
      );
      summary.pages++;
      await applyAll(ctx, list.data, summary);
      log.info("dispute sync progress", { ...summary });
      if (!list.has_more || list.data.length === 0) break;
      startingAfter = list.data[list.data.length - 1].id;
    }
    return summary;
  }

  return {
    sync: (ctx: CallContext, stripeId?: string) => stripeId ? syncOne(ctx, stripeId) : syncAll(ctx),
  };
}
