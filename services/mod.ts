/** Builds every service from the deps once; routes receive this object. */
import type { Deps } from "./deps.ts";
import { createHealthService } from "./health.ts";
import { createAuditService } from "./audit/mod.ts";
import { createWebhookService } from "./webhooks/mod.ts";
import { CursorSealer } from "../kv/pagination.ts";
import { createIdFactory } from "../core/ids.ts";
import { createIdentityService } from "./identity/mod.ts";
import { createStripeEventApplier } from "./ingest/mod.ts";
import { createTransactionService } from "./transactions.ts";
import { createCustomerService } from "./customers.ts";
import { createRefundService, createRefundSettlement } from "./refunds/mod.ts";
import { createOpsAlertService } from "./ops_alerts.ts";
import { createApprovalService } from "./approvals/mod.ts";
import { refundApprovalSource } from "./refunds/mod.ts";
import { createFraudService } from "./fraud/mod.ts";
export { type IdentityGuard } from "./identity/mod.ts";

export function createServices(deps: Deps) {
  const cursors = new CursorSealer(deps.config.auditSigningKey);
  const newId = createIdFactory(deps.clock);
  // created first: every service that changes something receives it
  const audit = createAuditService(deps);
  // the one writer of transactions, ledger and customers (webhooks and backfill call it)
  // refunds settle their own records inside the applier's commit (webhooks, reconciliation, responses)
  const refundSettlement = createRefundSettlement(deps, { newId });
  const stripeEvents = createStripeEventApplier(deps, { audit, newId, refundSettlement });
  // one queue for every two-person request; domains register their kinds below
  const approvals = createApprovalService(deps, { audit, newId, cursors });
  const refunds = createRefundService(deps, { audit, newId, cursors, refundSettlement });
  approvals.register("refund.approve", { source: refundApprovalSource(refunds) });
  // registers its two-person kinds (disabling a rule, shadow mode) with the queue
  const fraud = createFraudService(deps, { audit, newId, cursors, refunds, approvals });
  return {
    deps,
    cursors,
    newId,
    audit,
    stripeEvents,
    transactions: createTransactionService(deps, { cursors }),
    customers: createCustomerService(deps, { cursors }),
    health: createHealthService(deps),
    webhooks: createWebhookService(deps, { audit, newId, cursors, applier: stripeEvents }),
    identity: createIdentityService(deps, { audit, cursors, newId }),
    refunds,
    approvals,
    opsAlerts: createOpsAlertService(deps, { audit, cursors }),
    fraud,
  };
}

export type Services = ReturnType<typeof createServices>;
