/**
 * Backfill: pages through what Stripe holds since a date (customers, payment
 * intents, charges, refunds, disputes, Radar's early fraud warnings and
 * reviews) and applies each object exactly as a webhook of its latest state
 * would be applied. The applier is idempotent and order-safe, so a second run
 * changes nothing, and a warning or review also seen by its events counts once.
 *
 * Each page is one call through the gateway at background priority (the
 * budget leaves a reserve for admins). Stripe lists newest first, so paging
 * stops at the first object created before `since`; no `created` filter is
 * sent, which also keeps the requests plain for Stripe-compatible emulators.
 */
import type Stripe from "stripe";
import type { Deps } from "./deps.ts";
import { AppError } from "../core/errors.ts";
import { keys } from "../kv/keys.ts";
import { whileLocked } from "../kv/atomic.ts";
import { stripeAnsweredAt } from "./stripe/mod.ts";

export const BACKFILL_KINDS = [
  "customers",
  "payment_intents",
  "charges",
  "refunds",
  "disputes",
  // after the payments they name, so each lands on a transaction already known
  "early_fraud_warnings",
  "reviews",
] as const;
export type BackfillKind = typeof BACKFILL_KINDS[number];

export type BackfillObject =
  | Stripe.PaymentIntent
  | Stripe.Charge
  | Stripe.Refund
  | Stripe.Dispute
  | Stripe.Customer
  | Stripe.Radar.EarlyFraudWarning
  | Stripe.Review;

export interface ObjectApplier {
  /** `answeredAt`: Stripe's time of the page's answer (its `Date` header), seconds */
  /** resolves whether it changed anything (void: not told) */
  applyObject(
    object: BackfillObject,
    read?: { answeredAt: number | null },
  ): Promise<boolean | void>;
}

export interface BackfillProgress {
  kind: BackfillKind;
  /** 1-based position of `kind` in BACKFILL_KINDS */
  phase: number;
  phases: number;
  /** objects of this kind applied so far */
  applied: number;
  /** this kind is complete */
  done: boolean;
}

export interface BackfillOptions {
  /** ms since the epoch: objects created at or after this */
  since: number;
  onProgress?: (p: BackfillProgress) => void;
  /** default 100 (Stripe's maximum) */
  pageSize?: number;
  /** how long to keep retrying while another process holds the KV file (default 10 s) */
  lockWaitMs?: number;
}

export interface BackfillRun {
  since: number;
  /** objects read from Stripe and applied, by kind */
  counts: Record<BackfillKind, number>;
  /** of those, the ones that changed what the service held (the rest it had as Stripe has them) */
  changed: Record<BackfillKind, number>;
  started_at: number;
  finished_at: number;
}

type ListParams = { limit: number; starting_after?: string };
type Lister = (stripe: Stripe, params: ListParams) => Promise<Stripe.ApiList<BackfillObject>>;

const LISTERS: Record<BackfillKind, Lister> = {
  customers: (s, p) => s.customers.list(p),
  payment_intents: (s, p) => s.paymentIntents.list(p),
  charges: (s, p) => s.charges.list(p),
  refunds: (s, p) => s.refunds.list(p),
  disputes: (s, p) => s.disputes.list(p),
  early_fraud_warnings: (s, p) => s.radar.earlyFraudWarnings.list(p),
  reviews: (s, p) => s.reviews.list(p),
};

export function createBackfillService(deps: Deps, svc: { applier: ObjectApplier }) {
  async function run(options: BackfillOptions): Promise<BackfillRun> {
    const startedAt = deps.clock.now();
    const lockWaitMs = options.lockWaitMs ?? 10_000;
    const gte = Math.floor(options.since / 1000);
    const counts = Object.fromEntries(BACKFILL_KINDS.map((k) => [k, 0])) as BackfillRun["counts"];
    const changes = { ...counts };
    for (const [i, kind] of BACKFILL_KINDS.entries()) {
      const report = (done: boolean) =>
        options.onProgress?.({
          kind,
          phase: i + 1,
          phases: BACKFILL_KINDS.length,
          applied: counts[kind],
          done,
        });
      report(false);
      let startingAfter: string | undefined;
      for (;;) {
        const params: ListParams = { limit: options.pageSize ?? 100 };
        if (startingAfter) params.starting_after = startingAfter;
        const page = await deps.stripe.call((s) => LISTERS[kind](s, params), {
          priority: "background",
          label: `backfill.${kind}.list`,
        });
        let reachedOlder = false;
        // each object is as Stripe had it when it answered, by Stripe's clock
        const read = { answeredAt: stripeAnsweredAt(page) };
        for (const object of page.data) {
          if (object.created < gte) {
            reachedOlder = true;
            break;
          }
          const changed = await withLockRetry(
            () => svc.applier.applyObject(object, read),
            lockWaitMs,
          );
          counts[kind]++;
          if (changed !== false) changes[kind]++;
        }
        if (reachedOlder || !page.has_more || page.data.length === 0) break;
        report(false);
        startingAfter = page.data[page.data.length - 1].id;
      }
      report(true);
    }
    const result: BackfillRun = {
      since: options.since,
      counts,
      changed: changes,
      started_at: startedAt,
      finished_at: deps.clock.now(),
    };
    await withLockRetry(() => deps.kv.set(keys.backfillLastRun(), result), lockWaitMs);
    return result;
  }

  async function lastRun(): Promise<BackfillRun | null> {
    return (await deps.kv.get<BackfillRun>(keys.backfillLastRun())).value;
  }

  return { run, lastRun };
}

export type BackfillService = ReturnType<typeof createBackfillService>;

/**
 * SQLite lets one process write at a time: when the server runs on the same KV
 * file, a commit can meet "database is locked". Retry briefly, then say what to do.
 */
export function withLockRetry<T>(fn: () => Promise<T>, waitMs = 10_000): Promise<T> {
  return whileLocked(fn, waitMs, (error) =>
    new AppError(
      "unavailable",
      "the KV database is locked by another process (is `deno task start` running on the " +
        "same KV_PATH?); stop it or try again when it is idle",
      { cause: error },
    ));
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30d`, `12h`, `90m`, or a date/time (`2026-11-01`, UTC unless it names a zone) -> ms. */
export function parseSince(text: string, now: number): number {
  const relative = /^(\d{1,5})([mhd])$/.exec(text.trim());
  if (relative) return now - Number(relative[1]) * UNIT_MS[relative[2]];
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    const iso = text.trim().replace(" ", "T");
    const ms = Date.parse(/T[\d:.]+$/.test(iso) ? `${iso}Z` : iso);
    if (Number.isFinite(ms) && ms <= now) return ms;
    if (Number.isFinite(ms)) {
      throw new AppError("validation_failed", `--since ${text} is in the future`);
    }
  }
  throw new AppError(
    "validation_failed",
    `--since must be a duration such as 30d, 12h or 90m, or a date such as 2026-11-01 (got "${text}")`,
  );
}
