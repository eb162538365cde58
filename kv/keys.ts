/**
 * Every Deno KV key the service uses, and nothing else builds one.
 * Keys read like sentences: `["refunds_by_transaction", txnId, refundId]`.
 * Index entries hold the id of the record, never a copy of it.
 *
 * Add new keys to the section of their area (edit in place; other areas are
 * being worked on at the same time).
 */
import { caseKeys } from "./keys_cases.ts";

export const keys = {
  // --- infrastructure ---------------------------------------------------
  /** generated secrets kept for demo mode (cursor/audit signing key, ...) */
  secret: (name: string) => ["secrets", name],
  /** the key layout the store was written in (kv/layout.ts) */
  storeLayout: () => ["meta", "layout"],
  /** the Deno that serves the store, and the serializer version it writes (kv/runtime_stamp.ts) */
  storeRuntime: () => ["meta", "runtime"],
  /** a job due at `dueAt` (ms); see kv/jobs.ts */
  job: (dueAt: number, id: string) => ["jobs", dueAt, id],
  jobsDueBefore: (dueAt: number) => ["jobs", dueAt],
  jobsPrefix: () => ["jobs"],
  /** jobs that used up their attempts */
  deadJob: (id: string) => ["jobs_dead", id],
  deadJobsPrefix: () => ["jobs_dead"],
  /** the shared Stripe call budget (kv/token_bucket.ts) */
  stripeBucket: (name: string) => ["stripe_bucket", name],
  /** demo mode: set once the demo account has been seeded */
  demoSeeded: () => ["demo_seeded"],
  /** demo mode: set when a demo server first starts on the store (kv/demo.ts) */
  demoStore: () => ["demo_store"],
  /** set when a server first starts on the store with a Stripe key: no demo store from then on */
  storeServedLive: () => ["store_served_live"],
  /** last run of each periodic task (metrics, doctor) */
  cronRun: (task: string) => ["cron_runs", task],
  cronRunsPrefix: () => ["cron_runs"],
  /** a task's last run that ended `ok` / `error` (the metrics show both) */
  cronRunByOutcome: (
    task: string,
    outcome: "ok" | "error",
  ) => ["cron_runs_by_outcome", task, outcome],
  cronRunsByOutcomePrefix: () => ["cron_runs_by_outcome"],
  /** a probe for /readyz */
  readiness: () => ["readiness"],
  // --- identity (admins, tokens, second factor) --------------------------
  admin: (id: string) => ["admins", id],
  adminsPrefix: () => ["admins"],
  /** unique index: lowercased email -> admin id */
  adminByEmail: (email: string) => ["admins_by_email", email],
  /** SHA-256 (hex) of an API token -> admin id; the clear token is never stored */
  adminToken: (tokenHash: string) => ["admin_tokens", tokenHash],
  /** SHA-256 (hex) of a token its admin rotated themself -> who and when (kept minutes) */
  adminTokenRotated: (tokenHash: string) => ["admin_tokens_rotated", tokenHash],
  /** sealed TOTP secret, last used time-step, failures, lock, hashed recovery codes */
  adminSecondFactor: (adminId: string) => ["admin_second_factor", adminId],
  adminSecondFactorPrefix: () => ["admin_second_factor"],
  /** SHA-256 (hex) of a step-up token -> its binding (admin, bearer token hash, expires_at) */
  stepUpToken: (tokenHash: string) => ["step_up_tokens", tokenHash],
  /** fixed-window request counter (Deno.KvU64) per token hash and kind */
  rateWindow: (kind: string, tokenHash: string, window: number) => [
    "rate_windows",
    kind,
    tokenHash,
    window,
  ],
  /** a pending/decided grant of a role that needs a second admin's approval */
  roleGrant: (id: string) => ["role_grants", id],
  roleGrantByAdmin: (
    adminId: string,
    grantId: string,
  ) => ["role_grants_by_admin", adminId, grantId],
  roleGrantsByAdminPrefix: (adminId: string) => ["role_grants_by_admin", adminId],

  // --- audit log -----------------------------------------------------------
  /** one entry of the hash chain; `seq` is 1, 2, 3 … with no gaps */
  auditEntry: (seq: number) => ["audit", seq],
  auditEntriesPrefix: () => ["audit"],
  /** `{seq, hash, at}` of the last entry: every append checks and moves it */
  auditHead: () => ["audit_head"],
  /** indexes hold the seq only */
  auditByActor: (actorId: string, seq: number) => ["audit_by_actor", actorId, seq],
  auditByActorPrefix: (actorId: string) => ["audit_by_actor", actorId],
  auditByAction: (action: string, seq: number) => ["audit_by_action", action, seq],
  auditByActionPrefix: (action: string) => ["audit_by_action", action],
  auditByTarget: (targetId: string, seq: number) => ["audit_by_target", targetId, seq],
  auditByTargetPrefix: (targetId: string) => ["audit_by_target", targetId],
  /** every row of one index (a full verify walks them: README, "Audit checkpoints") */
  auditByActorRoot: () => ["audit_by_actor"],
  auditByActionRoot: () => ["audit_by_action"],
  auditByTargetRoot: () => ["audit_by_target"],
  /** signed `{seq, hash, at, signature}` of the head, recorded by cron */
  auditCheckpoint: (seq: number) => ["audit_checkpoints", seq],
  auditCheckpointsPrefix: () => ["audit_checkpoints"],

  // --- webhooks, transactions, customers --------------------------------
  /** the intake log record of one Stripe event (also its dedup key): `evt_…` -> record */
  webhookEvent: (eventId: string) => ["webhook_events", eventId],
  /** a payload too large to sit inline in the record, in byte chunks 0, 1, … */
  webhookEventPayloadChunk: (eventId: string, n: number) => ["webhook_event_payloads", eventId, n],
  webhookEventPayloadPrefix: (eventId: string) => ["webhook_event_payloads", eventId],
  /** who is processing the event now, a replay or its retry (services/webhooks/claims.ts) */
  webhookEventClaim: (eventId: string) => ["webhook_event_claims", eventId],
  /** listing indexes; `logId` is the `whe_` ULID given at intake, so they list in arrival order */
  webhookEventsByArrival: (logId: string) => ["webhook_events_by_arrival", logId],
  webhookEventsByArrivalPrefix: () => ["webhook_events_by_arrival"],
  webhookEventsByStatus: (status: string, logId: string) => [
    "webhook_events_by_status",
    status,
    logId,
  ],
  webhookEventsByStatusPrefix: (status: string) => ["webhook_events_by_status", status],
  webhookEventsByType: (type: string, logId: string) => ["webhook_events_by_type", type, logId],
  webhookEventsByTypePrefix: (type: string) => ["webhook_events_by_type", type],
  webhookEventsByStatusType: (status: string, type: string, logId: string) => [
    "webhook_events_by_status_type",
    status,
    type,
    logId,
  ],
  webhookEventsByStatusTypePrefix: (status: string, type: string) => [
    "webhook_events_by_status_type",
    status,
    type,
  ],
  /** events acknowledged but ignored, per reason (`livemode_mismatch`): Deno.KvU64 */
  webhookIgnoredCount: (reason: string) => ["webhook_ignored_counts", reason],
  webhookIgnoredCountsPrefix: () => ["webhook_ignored_counts"],
  /** the last backfill run (`deno task backfill`) */
  backfillLastRun: () => ["backfill_runs", "last"],
  /** a transaction (one PaymentIntent, or one Charge made without one) */
  transaction: (id: string) => ["transactions", id],
  /** the Stripe snapshots and ledger postings behind a transaction (not shown by the API) */
  transactionSync: (id: string) => ["transaction_sync", id],
  /** `pi_…`/`ch_…` -> transaction id; created with `versionstamp: null`, so the first writer wins */
  transactionByStripe: (stripeId: string) => ["transactions_by_stripe", stripeId],
  /** a charge-keyed stub merged into its payment's transaction: old id -> surviving id */
  transactionMergedInto: (id: string) => ["transactions_merged", id],
  /** listing indexes by Stripe's `created` (ms), each -> transaction id */
  transactionsByCreated: (createdMs: number, id: string) => [
    "transactions_by_created",
    createdMs,
    id,
  ],
  transactionsByCreatedPrefix: () => ["transactions_by_created"],
  /**
   * A customer's keys sit together under `["customers", id, …]`: the event
   * that changes one (a payment posts to the ledger, moves the balance and the
   * aggregates, indexes the transaction) then writes a page or two, not one
   * page per kind of key spread over the whole store.
   */
  transactionsByCustomer: (customer: string, createdMs: number, id: string) => [
    "customers",
    customer,
    "transactions",
    createdMs,
    id,
  ],
  transactionsByCustomerPrefix: (customer: string) => ["customers", customer, "transactions"],
  transactionsByStatus: (status: string, createdMs: number, id: string) => [
    "transactions_by_status",
    status,
    createdMs,
    id,
  ],
  transactionsByStatusPrefix: (status: string) => ["transactions_by_status", status],
  /** a Stripe customer as last seen (`cus_…`) */
  customer: (id: string) => ["customers", id],
  /** the customer's append-only ledger; entry ids are `led_` ULIDs (time order) */
  ledgerEntry: (customer: string, entryId: string) => ["customers", customer, "ledger", entryId],
  ledgerPrefix: (customer: string) => ["customers", customer, "ledger"],
  /**
   * the customer's counters: balance per currency (always the sum of that
   * currency's ledger entries) and the aggregates the fraud rules read
   * (services/ingest/aggregates.ts), updated with each change
   */
  customerAggregates: (customer: string) => ["customers", customer, "aggregates"],
  /** sweep runs (`sweep_…`) */
  fraudSweep: (id: string) => ["fraud_sweeps", id],
  fraudSweepsPrefix: () => ["fraud_sweeps"],
  /** where a walker of the change index (`sweep`, `live`) has reached: `[ms, subject]` */
  fraudCursor: (name: string) => ["fraud_cursors", name],

  // --- refunds --------------------------------------------------------------
  /** a refund record (`rfd_…`) with its history */
  refund: (id: string) => ["refunds", id],
  /** listing indexes, each -> refund id (ULIDs: time order) */
  refundsByCreated: (id: string) => ["refunds_by_created", id],
  refundsByCreatedPrefix: () => ["refunds_by_created"],
  refundByTransaction: (txnId: string, id: string) => ["refunds_by_transaction", txnId, id],
  refundsByTransactionPrefix: (txnId: string) => ["refunds_by_transaction", txnId],
  refundByStatus: (status: string, id: string) => ["refunds_by_status", status, id],
  refundsByStatusPrefix: (status: string) => ["refunds_by_status", status],
  refundByRequester: (requester: string, id: string) => ["refunds_by_requester", requester, id],
  refundsByRequesterPrefix: (requester: string) => ["refunds_by_requester", requester],
  /** unique: Stripe's `re_…` -> refund id (a Dashboard refund is recorded once) */
  refundByStripeRefund: (stripeRefundId: string) => ["refunds_by_stripe_refund", stripeRefundId],
  /** what an operator has refunded on a UTC day (Deno.KvU64, minor units), for the daily cap */
  refundDailyTotal: (adminId: string, day: string) => ["refund_daily_totals", adminId, day],
  /** money problems an operator must look at (a refund that failed after succeeding, …) */
  opsAlert: (id: string) => ["ops_alerts", id],
  opsAlertsPrefix: () => ["ops_alerts"],
  /** a client `Idempotency-Key` (SHA-256 hex), scoped per caller and route (kv/idempotency.ts) */
  idempotencyKey: (owner: string, route: string, keyHash: string) => [
    "idempotency_keys",
    owner,
    route,
    keyHash,
  ],
  /**
   * which request a caller's `Idempotency-Key` (SHA-256 hex) belongs to, across every keyed
   * route: written in the claim's commit beside the per-route record (kv/idempotency_claim.ts)
   */
  idempotencyOwnerKey: (owner: string, keyHash: string) => [
    "idempotency_key_owners",
    owner,
    keyHash,
  ],

  // --- two-person requests (services/approvals/) ---------------------------
  /** a two-person request (`apr_…`) */
  approval: (id: string) => ["approvals", id],
  /** listing index by status -> request id (ULIDs: time order) */
  approvalByStatus: (status: string, id: string) => ["approvals_by_status", status, id],
  approvalsByStatusPrefix: (status: string) => ["approvals_by_status", status],
  /** `a` and `b` are linked (one created, approved or enrolled the other); written both ways */
  adminLink: (a: string, b: string) => ["admin_links", a, b],
  adminLinksPrefix: (a: string) => ["admin_links", a],
  /** `handler` held an enrollment code for `adminId` (handed over its credentials) */
  adminHandler: (adminId: string, handler: string) => ["admin_handlers", adminId, handler],
  adminHandlersPrefix: (adminId: string) => ["admin_handlers", adminId],
  /** a single-use enrollment code, by SHA-256 of the code (the code itself is never stored) */
  enrollment: (codeHash: string) => ["enrollments", codeHash],
  enrollmentsPrefix: () => ["enrollments"],
  /** the admin the start-up made from FIRST_ADMIN_EMAIL (kv/first_admin.ts); written once */
  firstAdmin: () => ["first_admin"],
  /** lowercased email -> the latest `user.create` request for it (one pending per email) */
  accountRequestByEmail: (email: string) => ["account_requests_by_email", email],
  /** an account's latest request of one kind (role grant, re-enabling, reset): one pending */
  accountRequest: (adminId: string, kind: string) => ["account_requests", adminId, kind],
  /**
   * an admin's last removal of an admin made alone (disable or demotion), kept
   * 24 h: its versionstamp is checked by the next one (kv/admins.ts)
   */
  adminRemovalAlone: (adminId: string) => ["admin_removals_alone", adminId],
  /**
   * rewritten by each refund an operator asks for: its versionstamp is checked,
   * so one operator's concurrent requests see each other (refund approval policy)
   */
  refundRequesterMark: (adminId: string) => ["refund_requester_marks", adminId],
  /**
   * a count (Deno.KvU64): +1 for every write of one of the operator's
   * `refundByRequester` rows, in the write's commit; equal counts, equal rows
   */
  refundRequesterVersion: (adminId: string) => ["refund_requester_versions", adminId],
  /** the signed count of checkpoints (deleting one is detected) */
  auditCheckpointMeta: () => ["audit_checkpoint_meta"],
  /** the last checkpoint a verify confirmed: where the next incremental verify starts */
  auditVerifiedMarker: () => ["audit_verified_marker"],
  /** what the last full verify found wrong, and when; gone once a full verify passes */
  auditVerifyFailure: () => ["audit_verify_failure"],
  ...caseKeys,
} as const;
