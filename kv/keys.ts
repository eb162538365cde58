/**
 * Every Deno KV key the service uses, and nothing else builds one.
 * Keys read like sentences: `["refunds_by_transaction", txnId, refundId]`.
 * Index entries hold the id of the record, never a copy of it.
 *
 * Add new keys to the section of their area (edit in place; other areas are
 * being worked on at the same time).
 */
export const keys = {
  // --- infrastructure ---------------------------------------------------
  /** generated secrets kept for demo mode (cursor/audit signing key, ...) */
  secret: (name: string) => ["secrets", name],
  /** a job due at `dueAt` (ms); see kv/jobs.ts */
  job: (dueAt: number, id: string) => ["jobs", dueAt, id],
  jobsDueBefore: (dueAt: number) => ["jobs", dueAt],
  jobsPrefix: () => ["jobs"],
  /** jobs that used up their attempts */
  deadJob: (id: string) => ["jobs_dead", id],
  deadJobsPrefix: () => ["jobs_dead"],
  /** the shared Stripe call budget (kv/token_bucket.ts) */
  stripeBucket: (name: string) => ["stripe_bucket", name],
  /** a probe for /readyz */
  readiness: () => ["readiness"],
  // --- identity (admins, tokens, second factor) --------------------------

  // --- audit log -----------------------------------------------------------

  // --- webhooks, transactions, customers --------------------------------

  // --- refunds --------------------------------------------------------------
} as const;
