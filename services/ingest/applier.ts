/**
 * Applies Stripe's events (and objects read back by the backfill) to the
 * service's picture of the account: transactions, the customer ledger and
 * aggregates, customers. Idempotent and order-safe: each object keeps its
 * newest snapshot only (services/ingest/merge.ts), and a transaction is derived
 * from its snapshots, so any delivery order and any repetition ends the same.
 *
 * When one event cannot be placed (a decline and an attempt in flight in the
 * same second; a `charge.refunded` naming refunds we have not seen) the object
 * is read back from Stripe through the gateway. A transient failure throws,
 * and the webhook job retries the event.
 *
 * `atIntake`: the webhook intake applies plain ingestion in the commit that
 * stores the event, before answering Stripe, so that path must only wait on
 * KV. Whatever would wait on more (the audit chain, a read-back from Stripe,
 * a customer busy with such work) comes back `deferred`, having written
 * nothing, and follows in the background.
 */
import type Stripe from "stripe";
import { shapeProblem } from "../../domain/stripe_shape.ts";
import type { Deps } from "../deps.ts";
import { CounterCache } from "../../kv/read_cache.ts";
import { type CallContext, stripeContext, systemContext } from "../../domain/actor.ts";
import { BACKFILL_ACTOR } from "../../domain/system_actors.ts";
import { isPiTerminal } from "./snapshots.ts";
import { stripeAnsweredAt } from "../stripe/mod.ts";
import { peek, placePiRead, resolveAmbiguity } from "./read_back.ts";
import { withDisputeReadBack } from "./dispute_read_back.ts";
import { type ApplierServices, applyToTransaction, type TxnApplyInput } from "./apply.ts";
import { type CommitHook, type CommitResult, createEventCommitter, Deferred } from "./commit.ts";
import {
  applyCustomer,
  applyPaymentMethodAttached,
  applyPaymentMethodDetached,
} from "./customers.ts";
import { createKeyedLock } from "../../core/keyed_lock.ts";
import { type TxnWork, txnWork } from "./work.ts";

export type { ApplierServices, DisputeChangeHook, RefundSettlementHook } from "./apply.ts";
export type { ApplyOutcome, CommitHook } from "./commit.ts";

export type BackfillableObject =
  | Stripe.PaymentIntent
  | Stripe.Charge
  | Stripe.Refund
  | Stripe.Dispute
  | Stripe.Customer
  | Stripe.Radar.EarlyFraudWarning
  | Stripe.Review;

export interface ApplyOptions {
  /** the caller's writes for the same commit (services/ingest/commit.ts `CommitHook`) */
  alsoInCommit?: CommitHook;
  /** KV work only; anything slower comes back `deferred` with nothing written */
  atIntake?: boolean;
}

export interface ApplyResult extends CommitResult {
  /** `atIntake` only: not applied, nothing written; apply it again without `atIntake` */
  deferred?: boolean;
}

export interface StripeEventApplier {
  /** Idempotent and order-safe; throws on a transient failure (the caller retries). */
  apply(event: Stripe.Event, options?: ApplyOptions): Promise<ApplyResult>;
  /** `apply` honours `atIntake` */
  readonly appliesAtIntake: true;
  /**
   * An object read from the API (backfill), applied as its state at Stripe's time of the
   * answer: `answeredAt` (its `Date` header, seconds), else the object's own, else our clock.
   */
  /** resolves whether it changed anything (false: the service had it as Stripe has it) */
  applyObject(object: BackfillableObject, read?: { answeredAt?: number | null }): Promise<boolean>;
}

async function applyWork(p: ApplierParts, work: TxnWork, meta: {
  eventId: string | null;
  eventType: string | null;
  at: number;
  /** a PaymentIntent read from the API: placed after what is stored (merge.ts `placeRead`) */
  read?: { pi: Stripe.PaymentIntent; stripeAt: number | null };
  ctx: CallContext;
  stripeRequest: TxnApplyInput["stripeRequest"];
  options: ApplyOptions;
}): Promise<CommitResult> {
  const { lock, committer, reads, svc } = p;
  if (!work.refs.pi && !work.refs.charge) {
    return {
      applied: false,
      detail: "ignored: names neither a PaymentIntent nor a charge",
      notProcessed: true,
    };
  }
  let customer = work.customer;
  if (!customer) customer = (await peek(p, work.refs))?.txn.value?.customer ?? null;
  const key = customer ? `cus:${customer}` : `obj:${work.refs.pi ?? work.refs.charge}`;
  const atIntake = meta.options.atIntake === true;
  return await lock(key, async () => {
    if (meta.read) await placePiRead(p, work, meta.read);
    const first = work.observations[0];
    // Only an attempt still in flight can be ambiguous; a final PaymentIntent never is.
    const needsPeek = (first.kind === "pi" && !isPiTerminal(first.snap.status)) ||
      meta.eventType === "charge.refunded";
    if (needsPeek) {
      const state = await peek(p, work.refs);
      await resolveAmbiguity(p, work, state?.sync.value ?? null, meta.at, meta.eventType, atIntake);
    }
    const readBack = { eventType: meta.eventType, atIntake, priority: "background" as const };
    return await withDisputeReadBack(
      p,
      work.observations,
      readBack,
      () =>
        applyToTransaction(reads, { ...svc, committer }, {
          refs: work.refs,
          observations: work.observations,
          eventId: meta.eventId,
          ctx: meta.ctx,
          stripeRequest: meta.stripeRequest,
          counterHint: customer ? { customer } : null,
          commit: { alsoInCommit: meta.options.alsoInCommit, plainOnly: atIntake },
        }),
    );
  }, atIntake);
}

async function apply(
  p: ApplierParts,
  event: Stripe.Event,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  try {
    return await applyEvent(p, event, options);
  } catch (e) {
    if (!(e instanceof Deferred) || !options.atIntake) throw e;
    return { applied: false, detail: `deferred: ${e.message}`, deferred: true };
  }
}

async function applyEvent(
  p: ApplierParts,
  event: Stripe.Event,
  options: ApplyOptions,
): Promise<CommitResult> {
  const { committer, reads } = p;
  const type = event.type as string;
  const object = event.data.object as unknown as { object?: string; id?: string };
  const previous = (event.data as { previous_attributes?: Record<string, unknown> })
    .previous_attributes;
  const malformed = shapeProblem(object, type, previous);
  if (malformed) throw new Error(malformed);
  const ctx = stripeContext(event.id);
  const commit = { alsoInCommit: options.alsoInCommit, plainOnly: options.atIntake === true };
  const input = { eventId: event.id, eventType: type, at: event.created, ctx, commit };
  if (type === "customer.created" || type === "customer.updated" || type === "customer.deleted") {
    return await applyCustomer(reads, committer, object as Stripe.Customer, { ...input, previous });
  }
  if (type === "payment_method.attached") {
    const pm = object as Stripe.PaymentMethod;
    return await applyPaymentMethodAttached(reads, committer, pm, input);
  }
  if (type === "payment_method.detached") {
    const from = typeof previous?.customer === "string" ? previous.customer : null;
    const pm = object as Stripe.PaymentMethod;
    return await applyPaymentMethodDetached(reads, committer, pm, from, input);
  }
  const work = handled(type) ? txnWork(object, event.created, type) : null;
  if (!work) {
    return { applied: false, detail: `ignored: ${type} is not processed`, notProcessed: true };
  }
  return await applyWork(p, work, {
    ...input,
    options,
    stripeRequest: event.request
      ? {
        request_id: event.request.id ?? null,
        idempotency_key: event.request.idempotency_key ?? null,
      }
      : null,
  });
}

async function applyObject(
  p: ApplierParts,
  object: BackfillableObject,
  read: { answeredAt?: number | null } = {},
): Promise<boolean> {
  const { committer, reads, nowSec } = p;
  // Stripe's time of the read, not our clock, which may run behind Stripe's (an older
  // event arriving after the read would then look newer) or ahead (README "Transactions
  // and money edges").
  const stripeAt = read.answeredAt ?? stripeAnsweredAt(object);
  const at = stripeAt ?? nowSec();
  const ctx = systemContext(BACKFILL_ACTOR);
  if (object.object === "customer") {
    const done = await applyCustomer(reads, committer, object, {
      eventId: null,
      eventType: null,
      at,
      ctx,
    });
    return done.applied;
  }
  const work = txnWork(object, at, null);
  if (!work) throw new Error(`cannot apply a Stripe ${(object as { object: string }).object}`);
  // a dispute read is Stripe's word at `at` (dispute_snap.ts `read_at`)
  for (const o of work.observations) if (o.kind === "dispute") o.snap.read_at = at;
  const done = await applyWork(p, work, {
    eventId: null,
    eventType: null,
    at,
    read: object.object === "payment_intent" ? { pi: object, stripeAt } : undefined,
    ctx,
    stripeRequest: null,
    options: {},
  });
  return done.applied;
}

/** What applying works with. */
interface ApplierParts extends Pick<Deps, "kv" | "clock"> {
  /** `kv` reads: checked when their change commits, on `deps.kv`, through the committer */
  deps: Deps;
  svc: ApplierServices;
  lock: ReturnType<typeof createKeyedLock>;
  committer: ReturnType<typeof createEventCommitter>;
  reads: Deps;
  nowSec: () => number;
}

export function createStripeEventApplier(
  deps: Deps,
  svc: ApplierServices,
): StripeEventApplier {
  const { clock } = deps;
  const lock = createKeyedLock();
  const committer = createEventCommitter(deps.kv, svc.audit, new CounterCache(clock));
  // Every read below is checked when its change commits (on `deps.kv`, through the committer).
  const reads: Deps = deps.kvReads ? { ...deps, kv: deps.kvReads } : deps;
  const nowSec = () => Math.floor(clock.now() / 1000);
  const p: ApplierParts = { kv: reads.kv, clock, deps, svc, lock, committer, reads, nowSec };

  return {
    apply: (event, options) => apply(p, event, options),
    applyObject: (object, read) => applyObject(p, object, read),
    appliesAtIntake: true,
  };
}

const HANDLED_PREFIXES = [
  "payment_intent.",
  "charge.",
  "refund.",
  "radar.early_fraud_warning.",
  "review.",
];

/** Event families whose object is a payment, charge, refund, dispute or fraud signal. */
function handled(type: string): boolean {
  return HANDLED_PREFIXES.some((p) => type.startsWith(p));
}
