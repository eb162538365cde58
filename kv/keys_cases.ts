/**
 * The keys of the case work that points at transactions: disputes, fraud
 * alerts and rules, retries and authorizations. `keys` (kv/keys.ts) takes
 * them in; build keys through `keys`, never from here directly.
 */
export const caseKeys = {
  // --- disputes ----------------------------------------------------------------
  /** a dispute record (`dsp_…`) with its history */
  dispute: (id: string) => ["disputes", id],
  disputesPrefix: () => ["disputes"],
  /** unique: Stripe's `du_…` -> dispute id */
  disputeByStripe: (stripeDisputeId: string) => ["disputes_by_stripe", stripeDisputeId],
  /** the transaction's disputes -> dispute id */
  disputeByTransaction: (txnId: string, id: string) => ["disputes_by_transaction", txnId, id],
  disputesByTransactionPrefix: (txnId: string) => ["disputes_by_transaction", txnId],
  /** by evidence deadline (ms), -> dispute id; only disputes that can still be answered */
  disputeByDue: (dueMs: number, id: string) => ["disputes_by_due", dueMs, id],
  /** an operator's accepts of the last 24 h that needed no second person (kv/dispute_accepts.ts) */
  disputeAcceptTally: (admin: string) => ["dispute_accept_tallies", admin],
  disputesByDuePrefix: () => ["disputes_by_due"],
  disputesByDueBefore: (dueMs: number) => ["disputes_by_due", dueMs],
  /** the evidence draft (JSON text) in chunks 0, 1, … (a full draft outgrows one value) */
  disputeDraftChunk: (id: string, n: number) => ["dispute_drafts", id, n],
  disputeDraftPrefix: (id: string) => ["dispute_drafts", id],
  /**
   * an evidence file being uploaded or uploaded lately, by who sent it, the
   * field and the file (a digest): the same upload sent again is that file
   */
  disputeUpload: (id: string, digest: string) => ["dispute_uploads", id, digest],
  /** notes on a dispute; note ids are ULIDs (time order) */
  disputeNote: (id: string, noteId: string) => ["dispute_notes", id, noteId],
  disputeNotesPrefix: (id: string) => ["dispute_notes", id],
  /** the last ops alert handed to the ALERT_WEBHOOK_URL delivery jobs (services/alert_delivery.ts) */
  opsAlertDeliveryCursor: () => ["ops_alert_delivery", "cursor"],
  // --- fraud ---------------------------------------------------------------
  /** fraud alert records: written by the fraud service */
  fraudAlert: (id: string) => ["fraud_alerts", id],
  /**
   * each customer's OPEN alerts -> alert id: an alert is listed under its
   * `customer` and under every one of its `customers` (a card alert names
   * several); the fraud service removes the entries when it closes
   */
  fraudAlertsByCustomer: (customer: string, alertId: string) => [
    "fraud_alerts_by_customer",
    customer,
    alertId,
  ],
  fraudAlertsByCustomerPrefix: (customer: string) => ["fraud_alerts_by_customer", customer],
  /** a customer an alert resolved as fraud names -> `{ until }` (the retry policy reads it) */
  fraudConfirmedCustomer: (customer: string, alertId: string) => [
    "fraud_confirmed_customers",
    customer,
    alertId,
  ],
  fraudConfirmedCustomerPrefix: (customer: string) => ["fraud_confirmed_customers", customer],
  /** every alert by id (ULID: time order), for the listing */
  fraudAlertsByCreated: (alertId: string) => ["fraud_alerts_by_created", alertId],
  fraudAlertsByCreatedPrefix: () => ["fraud_alerts_by_created"],
  /** the one open (not resolved) alert of a subject and rule -> alert id */
  fraudOpenAlert: (subject: string, rule: string) => ["fraud_open_alerts", subject, rule],
  fraudOpenAlertsPrefix: () => ["fraud_open_alerts"],
  /** every open alert of one subject (any rule), e.g. a card's (`card:<fingerprint>`) */
  fraudOpenAlertsOfSubjectPrefix: (subject: string) => ["fraud_open_alerts", subject],
  /** set once the open alerts stored before every named customer was indexed have been indexed */
  fraudAlertCustomersIndexed: () => ["meta", "fraud_alert_customers_indexed"],
  /** a transaction's hit on an alert is recorded once: -> true */
  fraudAlertHit: (alertId: string, txnId: string) => ["fraud_alert_hits", alertId, txnId],
  fraudAlertHitsPrefix: (alertId: string) => ["fraud_alert_hits", alertId],
  fraudAlertsPrefix: () => ["fraud_alerts"],
  /** set once the alerts stored before `fraudJudged` existed have had their hits recorded */
  fraudJudgedBackfilled: () => ["meta", "fraud_judged_backfilled"],
  /** set once the `fraudJudged` rows written without a retention have been given one */
  fraudJudgedRetained: () => ["meta", "fraud_judged_retained"],
  fraudJudgedPrefix: () => ["fraud_judged"],
  /**
   * what an alert of a subject and rule has judged (any status): a payment, a card or a
   * customer the rule counted at one of its hits (services/fraud/judged.ts) -> `{alert_id,
   * until}` (`JudgedRow`, dropped by KV at `until`; a bare alert id from before the retention)
   */
  fraudJudged: (subject: string, rule: string, item: string) => [
    "fraud_judged",
    subject,
    rule,
    item,
  ],
  /** a transaction's alerts (any status) -> alert id */
  fraudAlertsByTransaction: (txnId: string, alertId: string) => [
    "fraud_alerts_by_transaction",
    txnId,
    alertId,
  ],
  fraudAlertsByTransactionPrefix: (txnId: string) => ["fraud_alerts_by_transaction", txnId],
  /** a card's fraud history when it pays without a customer (customers keep theirs in aggregates) */
  fraudCardHistory: (fingerprint: string) => ["fraud_card_history", fingerprint],
  /** change index: a subject's history changed at `ms` (one row per subject, moved on change) */
  fraudChange: (ms: number, subject: string) => ["fraud_changes", ms, subject],
  fraudChangesPrefix: () => ["fraud_changes"],
  /**
   * one decline of a card for a customer at Stripe time `t`, by its charge (`ch_…`) ->
   * transaction id (kept 48 h; `charge` null: a row written before the charge was part of
   * the key, when one of a second's declines of a customer overwrote the other)
   */
  fraudCardDecline: (fingerprint: string, t: number, customer: string, charge: string | null) =>
    charge === null
      ? ["fraud_card_declines", fingerprint, t, customer]
      : ["fraud_card_declines", fingerprint, t, customer, charge],
  fraudCardDeclinesPrefix: (fingerprint: string) => ["fraud_card_declines", fingerprint],
  fraudCardDeclinesAllPrefix: () => ["fraud_card_declines"],
  /** a rule's current settings, and every version of them */
  fraudRule: (rule: string) => ["fraud_rules", rule],
  fraudRuleVersion: (rule: string, version: number) => ["fraud_rule_versions", rule, version],
  /** a rule's latest change request waiting for a second admin (one at a time): its id */
  fraudRuleRequest: (rule: string) => ["fraud_rule_requests", rule],
  /** a rule silenced for a customer until a time */
  fraudSnooze: (id: string) => ["fraud_snoozes", id],
  fraudSnoozesPrefix: () => ["fraud_snoozes"],
  /** the snoozes in force of an admin (its id) or a rule (`rule:<name>`), `{ snoozes: [{ id, until }] }` */
  fraudSnoozeTally: (scope: string) => ["fraud_snooze_tallies", scope],
  fraudSnoozeBySubject: (customer: string, rule: string, id: string) => [
    "fraud_snoozes_by_subject",
    customer,
    rule,
    id,
  ],
  /**
   * a subject's payments made before `until` (ms) raise nothing of the rule: the latest end of
   * its snoozes (`until`, or when one was deleted), `{ until, snooze }`, kept a while after it
   */
  fraudSnoozeQuiet: (subject: string, rule: string) => ["fraud_snooze_quiet", subject, rule],
  fraudSnoozesBySubjectPrefix: (customer: string, rule: string) => [
    "fraud_snoozes_by_subject",
    customer,
    rule,
  ],
  /** a signal of a rule in shadow mode: recorded, no alert */
  fraudShadowHit: (rule: string, subject: string, txnId: string) => [
    "fraud_shadow_hits",
    rule,
    subject,
    txnId,
  ],
  fraudShadowHitsPrefix: (rule: string) => ["fraud_shadow_hits", rule],
  // --- retries and authorizations ------------------------------------------
  /** a retry attempt (`rty_…`) */
  retry: (id: string) => ["retries", id],
  /** listing indexes, each -> retry id (ULIDs: time order) */
  retriesByCreated: (id: string) => ["retries_by_created", id],
  retriesByCreatedPrefix: () => ["retries_by_created"],
  retryByTransaction: (txnId: string, id: string) => ["retries_by_transaction", txnId, id],
  retriesByTransactionPrefix: (txnId: string) => ["retries_by_transaction", txnId],
  retryByStatus: (status: string, id: string) => ["retries_by_status", status, id],
  retriesByStatusPrefix: (status: string) => ["retries_by_status", status],
  /** a payment's retry count and the attempt in flight: every new attempt checks and moves it */
  retryState: (txnId: string) => ["retry_states", txnId],
  /** when a card (fingerprint) was retried in the last 24 h: `{uses: ms[]}` */
  retryCardUses: (fingerprint: string) => ["retry_card_uses", fingerprint],
  /** a payment method's last retry (ISO 8601) */
  paymentMethodLastUsed: (pmId: string) => ["payment_method_last_used", pmId],
  /** a capture or cancel of an authorization (`aut_…`) */
  authorizationAction: (id: string) => ["authorization_actions", id],
  /** the one capture/cancel of a transaction's authorization -> its id (unique while it counts) */
  authorizationActionByTransaction: (
    txnId: string,
  ) => ["authorization_actions_by_transaction", txnId],
  authorizationActionsByStatus: (status: string, id: string) => [
    "authorization_actions_by_status",
    status,
    id,
  ],
  authorizationActionsByStatusPrefix: (
    status: string,
  ) => ["authorization_actions_by_status", status],
  /** set while the first request's Stripe call is out (a repeat waits for its answer) */
  authorizationInCall: (id: string) => ["authorization_actions_in_call", id],
  /** an authorization already alerted as about to lapse -> alert id */
  authorizationExpiryAlert: (txnId: string) => ["authorization_expiry_alerts", txnId],
  authorizationExpiryAlertsPrefix: () => ["authorization_expiry_alerts"],
  authorizationCaptureBefore: (txnId: string) => ["authorization_capture_before", txnId],
} as const;
