/**
 * Stripe's customer objects and attached payment methods as webhooks report
 * them, applied to the customer record (order-safe, like transactions).
 */
import type Stripe from "stripe";
import type { CallContext } from "../../domain/actor.ts";
import type { Deps } from "../deps.ts";
import { addAggregates, addCustomer, getAggregates, getCustomer } from "../../kv/customers.ts";
import type {
  CustomerRecord,
  CustomerSnapshot,
  SavedPaymentMethod,
} from "../../domain/customer.ts";
import type { CommitOptions, CommitResult, EventCommitter } from "./commit.ts";
import { noChange } from "./commit.ts";
import { placeDetails, previousDetails } from "./customer_order.ts";
import { emptyAggregates } from "./aggregates.ts";
import { idOf, paymentMethodSummary } from "./snapshots.ts";
import { boundStripeText } from "../../domain/stripe_text.ts";

const MAX_EVENT_IDS = 50;
const MAX_PAYMENT_METHODS = 20;
const MAX_DETACHED = 200;

export function emptyCustomer(id: string, now: number): CustomerRecord {
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
  // the tied snapshots count: a tie that does not change what is shown may decide a later one
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}

export interface CustomerApplyInput {
  eventId: string | null;
  eventType: string | null;
  /** seconds: the event's `created`, or the time of the fetch */
  at: number;
  /** the event's `data.previous_attributes`, if any */
  previous?: unknown;
  ctx: CallContext;
  /** the caller's writes joining the commit, `plainOnly` (services/ingest/commit.ts) */
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
  const c = object as Stripe.Customer;
  // A deletion is final and keeps the details; one that carries them (Stripe's full object) is
  // their last snapshot, after an update of its second (README, "Stripe webhooks").
  const snap: CustomerSnapshot | null = !deleted || typeof c.created === "number"
    ? {
      v: {
        // cut when far longer than Stripe's own (domain/stripe_text.ts)
        email: boundStripeText(c.email),
        name: boundStripeText(c.name),
        phone: boundStripeText(c.phone),
        description: boundStripeText(c.description),
        created: new Date(c.created * 1000).toISOString(),
      },
      p: previousDetails(input.previous),
    }
    : null;
  const order = [input.at, deleted ? 2 : input.eventType === "customer.created" ? 0 : 1];
  return committer.commit(input.ctx, async (op) => {
    const now = deps.clock.now();
    const entry = await getCustomer(deps.kv, object.id);
    const current = entry.value ?? emptyCustomer(object.id, now);
    if (input.eventId && current.events.includes(input.eventId)) {
      noChange(`duplicate: ${input.eventId} was already applied to ${object.id}`);
    }
    const placed = snap ? placeDetails(entry.value, order, snap) : null;
    if (!placed && !(deleted && !current.deleted)) {
      noChange(
        deleted ? `unchanged: ${object.id} is deleted` : `stale: ${object.id} has newer data`,
      );
    }
    const next: CustomerRecord = placed
      ? { ...current, ...placed.details, order: placed.order, tied: placed.tied }
      : { ...current };
    next.deleted = current.deleted || deleted;
    if (entry.value && sameRecord(current, next)) noChange(`unchanged: ${object.id}`);
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
    const detail = `ignored: ${pm.id} is attached to no customer`;
    return Promise.resolve({ applied: false, detail, notProcessed: true });
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
    // Detached already (its event came first): not saved again, but the card was seen here.
    const detached = current.detached_payment_methods?.includes(pm.id) ?? false;
    const seen = input.at * 1000;
    const fingerprint = saved.fingerprint;
    const newSighting = fingerprint !== null &&
      (aggEntry.value?.fingerprints[fingerprint] ?? 0) < seen;
    if (detached && !newSighting) noChange(`stale: ${pm.id} was detached from ${customerId}`);
    op.check(entry, aggEntry);
    if (!detached) {
      addCustomer(op, {
        ...current,
        payment_methods: [...current.payment_methods, saved].slice(-MAX_PAYMENT_METHODS),
        events: withEvent(current.events, input.eventId),
        updated_at: new Date(now).toISOString(),
      });
    }
    if (fingerprint && newSighting) {
      const agg = aggEntry.value
        ? structuredClone(aggEntry.value)
        : emptyAggregates(customerId, now);
      agg.fingerprints[fingerprint] = Math.max(agg.fingerprints[fingerprint] ?? 0, seen);
      agg.updated_at = new Date(now).toISOString();
      addAggregates(op, agg);
    }
    const detail = detached
      ? `payment method ${pm.id} was detached from ${customerId}: its card counted as seen`
      : `payment method ${pm.id} on ${customerId}`;
    return { value: { applied: true, detail }, audit: [] };
  }, input.commit);
}

/**
 * payment_method.detached: the payment method leaves the customer's saved
 * ones for good (Stripe never attaches a detached one again), whichever of
 * its attach and detach events comes first. The object no longer names the
 * customer; the event's `previous_attributes` does. The card's sighting stays
 * in the aggregates: the card was seen on this customer all the same.
 */
export function applyPaymentMethodDetached(
  deps: Deps,
  committer: EventCommitter,
  pm: Stripe.PaymentMethod,
  previousCustomer: string | null,
  input: CustomerApplyInput,
): Promise<CommitResult> {
  const customerId = previousCustomer ?? idOf(pm.customer);
  if (!customerId) {
    const detail = `ignored: ${pm.id} names no customer it left`;
    return Promise.resolve({ applied: false, detail, notProcessed: true });
  }
  return committer.commit(input.ctx, async (op) => {
    const now = deps.clock.now();
    const entry = await getCustomer(deps.kv, customerId);
    const current = entry.value ?? emptyCustomer(customerId, now);
    const tombstones = current.detached_payment_methods ?? [];
    if (tombstones.includes(pm.id)) {
      noChange(`unchanged: ${pm.id} already detached from ${customerId}`);
    }
    op.check(entry);
    addCustomer(op, {
      ...current,
      payment_methods: current.payment_methods.filter((p) => p.id !== pm.id),
      detached_payment_methods: [...tombstones, pm.id].slice(-MAX_DETACHED),
      events: withEvent(current.events, input.eventId),
      updated_at: new Date(now).toISOString(),
    });
    return {
      value: { applied: true, detail: `payment method ${pm.id} detached from ${customerId}` },
      audit: [],
    };
  }, input.commit);
}

function withEvent(events: string[], eventId: string | null): string[] {
  return eventId ? [...events, eventId].slice(-MAX_EVENT_IDS) : events;
}

/** `jane.doe@example.com` -> `j***@example.com` */
