/**
 * Every id the service writes as `actor.id` for a job, a CLI or Stripe in the
 * audit log (README "API": the audit log's `actor` filter takes exactly these,
 * besides an admin's `adm_…` id and `me`). The services and CLIs take their
 * actor from here rather than spelling one out, so a new one cannot be written
 * without the filter knowing it (tests/audit_actor_filter_test.ts checks every
 * `systemContext(` and `stripeContext(` call).
 */

/** Stripe, for what its events (webhooks and their replays) change. */
export const STRIPE_ACTOR = "stripe";
/** The break-glass CLI (`deno task admin`), acting alone on accounts by design. */
export const BREAK_GLASS_ACTOR = "cli";
/** Demo mode's first admin, made at start-up when there is none. */
export const DEMO_ACTOR = "demo";
/**
 * The first admin of a store with none, made at start-up from FIRST_ADMIN_EMAIL and
 * FIRST_ADMIN_ENROLLMENT_CODE (README, "Deploying to Deno Deploy"), and its code's issuer.
 */
export const FIRST_ADMIN_ACTOR = "first-admin";
/** The Stripe backfill (`deno task backfill`). */
export const BACKFILL_ACTOR = "backfill";
/** A webhook event's processing (the `webhook.process` job). */
export const WEBHOOK_PROCESS_ACTOR = "webhook.process";
/** Refund reconciliation (cron). */
export const RECONCILE_ACTOR = "cron:reconcile_refunds";
/**
 * Ends a disabled requester's refunds awaiting approval. Entries written before
 * `DEMOTED_VOID_ACTOR` existed name it for a demoted requester's too; their reason says which
 * (`void: … may no longer ask for refunds` or `… was demoted`).
 */
export const VOID_ACTOR = "refunds:requester_disabled";
/** Ends the refunds of a requester demoted since they asked (README, "Refund approval policy"). */
export const DEMOTED_VOID_ACTOR = "refunds:requester_demoted";
/** Ends a refund request a decision attempt found past its deadline. */
export const EXPIRY_ACTOR = "refunds:approval_expired";
/** Retry reconciliation (cron). */
export const RETRY_RECONCILE_ACTOR = "cron:reconcile_retries";
/** Capture and cancel reconciliation (cron). */
export const AUTHORIZATION_RECONCILE_ACTOR = "cron:reconcile_authorizations";
/** The hourly sweep over authorizations about to lapse (cron). */
export const AUTHORIZATION_EXPIRY_ACTOR = "cron:authorization_expiry";
/** Dispute deadline reminders (cron). */
export const REMINDER_ACTOR = "cron:dispute_reminders";
/** Evidence submission reconciliation (cron). */
export const SUBMIT_RECONCILE_ACTOR = "cron:reconcile_dispute_submissions";
/** Dispute accept (close) reconciliation (cron). */
export const CLOSE_RECONCILE_ACTOR = "cron:reconcile_dispute_closes";
/** The fraud change walkers, by walker: the live pass and the sweep (cron). */
export const FRAUD_WALKER_ACTORS = {
  live: "cron:fraud_live",
  sweep: "cron:fraud_sweep",
} as const;

/**
 * Ids once written and no longer produced, kept so their old entries stay
 * filterable. None so far: every id ever written is still produced.
 */
export const LEGACY_SYSTEM_ACTOR_IDS: readonly string[] = [];

/** Every id above, current and legacy, in the order a 422 lists them. */
export const SYSTEM_ACTOR_IDS: readonly string[] = [
  STRIPE_ACTOR,
  BREAK_GLASS_ACTOR,
  DEMO_ACTOR,
  FIRST_ADMIN_ACTOR,
  BACKFILL_ACTOR,
  WEBHOOK_PROCESS_ACTOR,
  RECONCILE_ACTOR,
  VOID_ACTOR,
  DEMOTED_VOID_ACTOR,
  EXPIRY_ACTOR,
  RETRY_RECONCILE_ACTOR,
  AUTHORIZATION_RECONCILE_ACTOR,
  AUTHORIZATION_EXPIRY_ACTOR,
  REMINDER_ACTOR,
  SUBMIT_RECONCILE_ACTOR,
  CLOSE_RECONCILE_ACTOR,
  ...Object.values(FRAUD_WALKER_ACTORS),
  ...LEGACY_SYSTEM_ACTOR_IDS,
];

const KNOWN = new Set(SYSTEM_ACTOR_IDS);

/** Whether `id` is one a job, a CLI or Stripe is (or was) written as. */
export function isSystemActorId(id: string): boolean {
  return KNOWN.has(id);
}
