/**
 * Customers: Stripe's customer objects and attached payment methods as
 * webhooks report them, and GET /customers/{id} (ledger, balances,
 * aggregates, open alerts).
 */
import type Stripe from "stripe";
import type { Deps } from "./deps.ts";
import type { CallContext } from "./context.ts";
import { notFound } from "./errors.ts";
import type { CursorSealer, Page } from "../kv/pagination.ts";
import {
  addAggregates,
  addCustomer,
  balancesOf,
  type CustomerBalance,
  type CustomerRecord,
  getAggregates,
  getCustomer,
  type LedgerEntry,
  listLedger,
  listOpenAlerts,
  type SavedPaymentMethod,
} from "../kv/customers.ts";
import {
  type CommitOptions,
  type CommitResult,
  type EventCommitter,
  noChange,
} from "./txn_commit.ts";
import { compareOrder } from "./txn_merge.ts";
import { idOf, paymentMethodSummary } from "./txn_snapshots.ts";
import { aggregatesView, emptyAggregates } from "./txn_aggregates.ts";

export type { CustomerRecord } from "../kv/customers.ts";

const MAX_EVENT_IDS = 50;
const MAX_PAYMENT_METHODS = 20;
const OPEN_ALERTS_SHOWN = 50;

function emptyCustomer(id: string, now: number): CustomerRecord {
  return {
    id,
    email: null,
    name: null,
    phone: null,
    description: null,
    created: null,
    deleted: false,
    payment_methods: [],
    order: [],
    events: [],
    updated_at: new Date(now).toISOString(),
  };
}

function sameRecord(a: CustomerRecord, b: CustomerRecord): boolean {
  const strip = (r: CustomerRecord) => ({ ...r, order: [], events: [], updated_at: "" });
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

export interface CustomerApplyInput {
  eventId: string | null;
  eventType: string | null;
  /** seconds: the event's `created`, or the time of the fetch */
  at: number;
  ctx: CallContext;
  /** the caller's writes joining the commit, `plainOnly` (services/txn_commit.ts) */
  commit?: CommitOptions;
}

/** customer.created / customer.updated / customer.deleted (and backfilled customers). */
export function applyCustomer(
  deps: Deps,
  committer: EventCommitter,
  object: Stripe.Customer | Stripe.DeletedCustomer,
  input: CustomerApplyInput,
): Promise<CommitResult> {
  const deleted = input.eventType === "customer.deleted" ||
    ("deleted" in object && object.deleted === true);
  // A deletion is final; otherwise the newer event wins, an update after a create in one second.
  const order = deleted
    ? [Number.MAX_SAFE_INTEGER]
    : [input.at, input.eventType === "customer.created" ? 0 : 1];
  return committer.commit(input.ctx, async (op) => {
    const now = deps.clock.now();
    const entry = await getCustomer(deps.kv, object.id);
    const current = entry.value ?? emptyCustomer(object.id, now);
    if (input.eventId && current.events.includes(input.eventId)) {
      noChange(`duplicate: ${input.eventId} was already applied to ${object.id}`);
    }
    if (entry.value && compareOrder(order, current.order) < 0) {
      noChange(`stale: ${object.id} has newer data`);
    }
    const c = object as Stripe.Customer;
    const next: CustomerRecord = deleted ? { ...current, deleted: true } : {
      ...current,
      email: c.email ?? null,
      name: c.name ?? null,
      phone: c.phone ?? null,
      description: c.description ?? null,
      created: new Date(c.created * 1000).toISOString(),
      deleted: false,
    };
    if (entry.value && sameRecord(current, next)) noChange(`unchanged: ${object.id}`);
    next.order = order;
    next.events = input.eventId
      ? [...current.events, input.eventId].slice(-MAX_EVENT_IDS)
      : current.events;
    next.updated_at = new Date(now).toISOString();
    op.check(entry);
    addCustomer(op, next);
    return { value: { applied: true, detail: `customer ${object.id}` }, audit: [] };
  }, input.commit);
}

/** payment_method.attached: remembered on the customer, its fingerprint in the aggregates. */
export function applyPaymentMethodAttached(
  deps: Deps,
  committer: EventCommitter,
  pm: Stripe.PaymentMethod,
  input: CustomerApplyInput,
): Promise<CommitResult> {
  const customerId = idOf(pm.customer);
  if (!customerId) {
    return Promise.resolve({ applied: false, detail: `${pm.id} is attached to no customer` });
  }
  const summary = paymentMethodSummary(
    pm.type,
    (pm as unknown as Record<string, unknown>)[pm.type],
  );
  const saved: SavedPaymentMethod = {
    id: pm.id,
    ...summary!,
    attached_at: new Date(input.at * 1000).toISOString(),
  };
  return committer.commit(input.ctx, async (op) => {
    const now = deps.clock.now();
    const [entry, aggEntry] = await Promise.all([
      getCustomer(deps.kv, customerId),
      getAggregates(deps.kv, customerId),
    ]);
    const current = entry.value ?? emptyCustomer(customerId, now);
    if (current.payment_methods.some((p) => p.id === pm.id)) {
      noChange(`unchanged: ${pm.id} already known on ${customerId}`);
    }
    const next: CustomerRecord = {
      ...current,
      payment_methods: [...current.payment_methods, saved].slice(-MAX_PAYMENT_METHODS),
      events: input.eventId
        ? [...current.events, input.eventId].slice(-MAX_EVENT_IDS)
        : current.events,
      updated_at: new Date(now).toISOString(),
    };
    op.check(entry, aggEntry);
    addCustomer(op, next);
    if (saved.fingerprint) {
      const agg = aggEntry.value
        ? structuredClone(aggEntry.value)
        : emptyAggregates(customerId, now);
      const seen = input.at * 1000;
      agg.fingerprints[saved.fingerprint] = Math.max(
        agg.fingerprints[saved.fingerprint] ?? 0,
        seen,
      );
      agg.updated_at = new Date(now).toISOString();
      addAggregates(op, agg);
    }
    return {
      value: { applied: true, detail: `payment method ${pm.id} on ${customerId}` },
      audit: [],
    };
  }, input.commit);
}

/** `jane.doe@example.com` -> `j***@example.com` */
export function maskEmail(email: string | null): string | null {
  if (!email) return null;
  const at = email.lastIndexOf("@");
  if (at < 1) return "***";
  return `${email[0]}***${email.slice(at)}`;
}

export interface CustomerView {
  customer: {
    id: string;
    email: string | null;
    name: string | null;
    description: string | null;
    created: string | null;
    deleted: boolean;
    payment_methods: SavedPaymentMethod[];
  };
  balances: Pick<CustomerBalance, "currency" | "amount" | "entries">[];
  ledger: Page<LedgerEntry>;
  aggregates: ReturnType<typeof aggregatesView>;
  open_alerts: unknown[];
}

export function createCustomerService(deps: Deps, svc: { cursors: CursorSealer }) {
  const { kv, clock } = deps;

  /** The customer's page; `cursor` pages the ledger (newest first). */
  async function get(id: string, page: { limit: number; cursor?: string }): Promise<CustomerView> {
    const [record, aggregates, ledger, alerts] = await Promise.all([
      getCustomer(kv, id),
      getAggregates(kv, id),
      listLedger(kv, svc.cursors, id, page),
      listOpenAlerts(kv, id, OPEN_ALERTS_SHOWN),
    ]);
    const balances = balancesOf(aggregates.value);
    if (!record.value && !aggregates.value) {
      throw notFound("customer", id);
    }
    const r = record.value ?? emptyCustomer(id, clock.now());
    return {
      customer: {
        id,
        email: maskEmail(r.email),
        name: r.name,
        description: r.description,
        created: r.created,
        deleted: r.deleted,
        payment_methods: r.payment_methods,
      },
      balances: balances.map((b) => ({
        currency: b.currency,
        amount: b.amount,
        entries: b.entries,
      })),
      ledger,
      aggregates: aggregatesView(aggregates.value, clock.now()),
      open_alerts: alerts,
    };
  }

  /** The raw aggregates, for the fraud rules (services/txn_aggregates.ts reads them). */
  async function aggregates(id: string) {
    return (await getAggregates(kv, id)).value;
  }

  return { get, aggregates };
}

export type CustomerService = ReturnType<typeof createCustomerService>;
