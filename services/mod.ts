/** Builds every service from the deps once; routes receive this object. */
import type { Deps } from "./deps.ts";
import { createHealthService } from "./health.ts";
import { type AuditService, createAuditService, type VerifyGateOptions } from "./audit/mod.ts";
import { createWebhookService, type EventApplier, webhookJobHandlers } from "./webhooks/mod.ts";
import { CursorSealer } from "../kv/pagination.ts";
import { createIdFactory, type IdFactory } from "../core/ids.ts";
import { createIdentityService, type IdentityOptions } from "./identity/mod.ts";
import { createStripeEventApplier } from "./ingest/mod.ts";
import { createTransactionService } from "./transactions.ts";
import { createCustomerService } from "./customers.ts";
import {
  createRefundMerge,
  createRefundService,
  createRefundSettlement,
  refundApprovalSource,
  type RefundHooks,
  refundJobHandlers,
} from "./refunds/mod.ts";
import { createOpsAlertService } from "./ops_alerts.ts";
import {
  createDisputeChangeHook,
  createDisputeMerge,
  createDisputeService,
  disputeJobHandlers,
  inAcceptHistory,
} from "./disputes/mod.ts";
import { createAlertDelivery } from "./alert_delivery.ts";
import { createApprovalService } from "./approvals/mod.ts";
import { createMetrics, type Metrics } from "../core/metrics.ts";
import { registerBacklogMetrics } from "./metrics.ts";
import {
  type AnswerDetails,
  createPaymentSettlement,
  createRetryService,
  type RetryHooks,
} from "./retries/mod.ts";
import { createFraudService } from "./fraud/mod.ts";
import type { JobHandler } from "../kv/jobs.ts";
export { type IdentityGuard } from "./identity/mod.ts";

/** What a caller (tests, the bench) may change in how the services are built. */
export interface ServiceOptions {
  /** wraps the Stripe event applier the webhooks service hands events to */
  webhookApplier?: (base: EventApplier) => EventApplier;
  /** called at the refunds service's steps (tests: crash and timing points) */
  refundHooks?: RefundHooks;
  /** called at the retries service's steps (tests: between Stripe's answer and its settlement) */
  retryHooks?: RetryHooks;
  /** how long a verify waits for the audit-log walk in progress (default 5 s) */
  auditVerifyGate?: VerifyGateOptions;
  /** the identity service's throttle settings */
  identity?: Pick<IdentityOptions, "limits" | "throttleFlushEveryMs" | "throttleFlushTimer">;
}

type ServiceDeps = Deps & { metrics: Metrics };

/**
 * The Stripe event applier and the hooks that keep each domain's records in
 * its commit (the refunds, disputes and retries services use them too).
 */
function createApplier(deps: ServiceDeps, svc: { audit: AuditService; newId: IdFactory }) {
  const { audit, newId } = svc;
  // the one writer of transactions, ledger and customers (webhooks and backfill call it)
  // refunds settle their own records inside the applier's commit (webhooks, reconciliation, responses)
  const refundSettlement = createRefundSettlement(deps, { newId });
  // services keeping records about a transaction move them when a stub merges into its payment
  const mergeHooks = [createRefundMerge(deps), createDisputeMerge(deps)];
  // disputes keep their records in the same commit as the transaction's change
  const disputeChange = createDisputeChangeHook(deps, { newId });
  // retry attempts settle inside the applier's commit too (answer, webhook, reconciliation)
  const answers: AnswerDetails = new Map();
  const paymentSettlement = createPaymentSettlement(deps, answers);
  const stripeEvents = createStripeEventApplier(deps, {
    audit,
    newId,
    refundSettlement,
    paymentSettlement,
    mergeHooks,
    disputeChange,
  });
  return { refundSettlement, disputeChange, answers, paymentSettlement, stripeEvents };
}

/** The services that own job kinds (services/background.ts runs the job table with them). */
type JobOwners =
  & Parameters<typeof webhookJobHandlers>[0]
  & Parameters<typeof refundJobHandlers>[0]
  & Parameters<typeof disputeJobHandlers>[0]
  & {
    alertDelivery: { handlers: Record<string, JobHandler> };
    retries: { jobHandlers(): Record<string, JobHandler> };
  };

/** Every job kind the service knows, with its handler. */
export function jobHandlers(services: JobOwners): Record<string, JobHandler> {
  return {
    ...webhookJobHandlers(services),
    ...refundJobHandlers(services),
    ...disputeJobHandlers(services),
    ...services.alertDelivery.handlers,
    ...services.retries.jobHandlers(),
  };
}

export function createServices(input: Deps, options: ServiceOptions = {}) {
  // every service records into the same registry (a test's app gets its own)
  const metrics = input.metrics ?? createMetrics();
  const deps: ServiceDeps = { ...input, metrics };
  const cursors = new CursorSealer(deps.config.auditSigningKey);
  const newId = createIdFactory(deps.clock);
  // created first: every service that changes something receives it
  const audit = createAuditService(deps, { verifyGate: options.auditVerifyGate });
  const { refundSettlement, disputeChange, answers, paymentSettlement, stripeEvents } =
    createApplier(deps, { audit, newId });
  // one queue for every two-person request; domains register their kinds below
  const approvals = createApprovalService(deps, { audit, newId, cursors });
  const refunds = createRefundService(deps, {
    audit,
    newId,
    cursors,
    refundSettlement,
    hooks: options.refundHooks,
  });
  approvals.register("refund.approve", { source: refundApprovalSource(refunds) });
  const disputes = createDisputeService(deps, { audit, newId, cursors, disputeChange, approvals });
  approvals.register("dispute.accept", {
    history: inAcceptHistory,
    execute: (_deps, request, ctx) => disputes.executeApprovedAccept(ctx, request),
  });
  const backlog = registerBacklogMetrics(deps, metrics);
  // registers its two-person kinds (disabling, shadow mode, loosening a rule) with the queue
  const fraud = createFraudService(deps, { audit, newId, cursors, refunds, approvals });
  const services = {
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
    identity: createIdentityService(deps, {
      ...options.identity,
      audit,
      cursors,
      newId,
      approvals,
      // what a disabled account asked for and still awaits approval ends with it
      onAccountDisabled: async (adminId) => {
        try {
          await refunds.voidRequestsOf(adminId);
        } catch (error) {
          // approvals refuse them anyway (disabled_at); the sweep is a courtesy
          deps.log.warn("voiding a disabled admin's refunds failed", { admin_id: adminId, error });
        }
      },
    }),
    refunds,
    approvals,
    opsAlerts: createOpsAlertService(deps, { audit, cursors }),
    disputes,
    alertDelivery: createAlertDelivery(deps, { newId }),
    retries: createRetryService(deps, {
      audit,
      newId,
      cursors,
      answers,
      paymentSettlement,
      hooks: options.retryHooks,
    }),
    fraud,
  };
  backlog.knowJobKinds(Object.keys(jobHandlers(services)));
  return services;
}

export type Services = ReturnType<typeof createServices>;
