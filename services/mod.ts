/** Builds every service from the deps once; routes receive this object. */
import type { Deps } from "./deps.ts";
import { createHealthService } from "./health.ts";
import { createAuditService } from "./audit/mod.ts";
import { createWebhookService, type EventApplier } from "./webhooks/mod.ts";
import { CursorSealer } from "../kv/pagination.ts";
import { createIdFactory } from "../core/ids.ts";
import { createIdentityService, type IdentityOptions } from "./identity/mod.ts";
import { createStripeEventApplier } from "./ingest/mod.ts";
import { createTransactionService } from "./transactions.ts";
import { createCustomerService } from "./customers.ts";
import { createRefundService, createRefundSettlement, type RefundHooks } from "./refunds/mod.ts";
import { createOpsAlertService } from "./ops_alerts.ts";
import { createMetrics, type Metrics } from "../core/metrics.ts";
import { registerBacklogMetrics } from "./metrics.ts";
export { type IdentityGuard } from "./identity/mod.ts";

/** What a caller (tests, the bench) may change in how the services are built. */
export interface ServiceOptions {
  /** wraps the Stripe event applier the webhooks service hands events to */
  webhookApplier?: (base: EventApplier) => EventApplier;
  /** called at the refunds service's steps (tests: crash and timing points) */
  refundHooks?: RefundHooks;
  /** the identity service's throttle settings */
  identity?: Pick<IdentityOptions, "limits" | "throttleFlushEveryMs" | "throttleFlushTimer">;
}

export function createServices(input: Deps, options: ServiceOptions = {}) {
  // every service records into the same registry (a test's app gets its own)
  const metrics = input.metrics ?? createMetrics();
  const deps: Deps & { metrics: Metrics } = { ...input, metrics };
  const cursors = new CursorSealer(deps.config.auditSigningKey);
  const newId = createIdFactory(deps.clock);
  // created first: every service that changes something receives it
  const audit = createAuditService(deps);
  // the one writer of transactions, ledger and customers (webhooks and backfill call it)
  // refunds settle their own records inside the applier's commit (webhooks, reconciliation, responses)
  const refundSettlement = createRefundSettlement(deps, { newId });
  const stripeEvents = createStripeEventApplier(deps, { audit, newId, refundSettlement });
  registerBacklogMetrics(deps, metrics);
  return {
    metrics,
    deps,
    cursors,
    newId,
    audit,
    stripeEvents,
    transactions: createTransactionService(deps, { cursors }),
    customers: createCustomerService(deps, { cursors }),
    health: createHealthService(deps),
    webhooks: createWebhookService(deps, {
      audit,
      newId,
      cursors,
      applier: options.webhookApplier?.(stripeEvents) ?? stripeEvents,
    }),
    identity: createIdentityService(deps, { ...options.identity, audit, cursors, newId }),
    refunds: createRefundService(deps, {
      audit,
      newId,
      cursors,
      refundSettlement,
      hooks: options.refundHooks,
    }),
    opsAlerts: createOpsAlertService(deps, { audit, cursors }),
  };
}

export type Services = ReturnType<typeof createServices>;
