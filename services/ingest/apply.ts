/**
 * One commit per Stripe event touching a transaction: merge the event's
 * snapshots, derive the transaction, move its indexes, post the ledger
 * difference, count new attempts in the customer's aggregates, let the
 * refunds/disputes services settle their own records, and append the audit
 * entries for money and case changes, all in ONE atomic commit.
 */
import type { Deps } from "../deps.ts";
import type { AuditInput } from "../audit/mod.ts";
import {
  type CommitOptions,
  type CommitResult,
  createEventCommitter,
  type EventBuild,
  type EventCommitter,
  needsAudit,
  noChange,
} from "./commit.ts";
import type { CallContext } from "../../domain/actor.ts";
import {
  addStripeIdClaim,
  addTransactionWrite,
  findTransactionId,
  findTransactionIds,
  findWithCounters,
  readTransactionState,
} from "../../kv/transactions.ts";
import type { CounterCache } from "../../kv/read_cache.ts";
import { type Change, mergeObservation, type Observation } from "./merge.ts";
import { deriveTransaction, sameTransaction } from "./derive.ts";
import { addCounters } from "./counters.ts";
import { auditEntriesFor } from "./audit.ts";
import { emptySync, type Transaction, type TxnSync } from "../../domain/transaction.ts";
import { mergeSplitPayment } from "./stub_merge.ts";
import {
  type ApplierServices,
  type DisputeChangeHook,
  type PaymentSettlementHook,
  type RefundSettlementHook,
  runChangeHooks,
  type StripeRequestRef,
} from "./hooks.ts";

export type {
  ApplierServices,
  DisputeChangeHook,
  PaymentSettlementHook,
  RefundSettlementHook,
  StripeRequestRef,
};

export interface TxnApplyInput {
  /** the PaymentIntent and charge the observed objects belong to */
  refs: { pi: string | null; charge: string | null };
  observations: Observation[];
  /** null for objects read from the API (backfill) */
  eventId: string | null;
  ctx: CallContext;
  stripeRequest: StripeRequestRef | null;
  /** the customer the object names, to read its counters up front */
  counterHint?: { customer: string } | null;
  /** the caller's writes joining the commit, `plainOnly` (services/ingest/commit.ts) */
  commit?: CommitOptions;
}

const MAX_EVENT_IDS = 50;

async function locateTransaction(
  kv: Deno.Kv,
  refs: TxnApplyInput["refs"],
  hint: TxnApplyInput["counterHint"],
  cache: CounterCache | null,
) {
  const primary = refs.pi ?? refs.charge;
  if (!primary) throw new Error("a Stripe object with neither payment_intent nor charge");
  const ids = refs.pi && refs.charge ? [refs.pi, refs.charge] : [primary];
  // by the charge: a stub made from an object that named only the charge, now known to belong to a PI
  // Both held, by two records: a charge-keyed stub to merge into the PaymentIntent's first.
  const splitOf = (found: (string | null)[]) =>
    found.length === 2 && found[0] && found[1] && found[0] !== found[1] ? found[1] : null;
  if (!hint) {
    const found = await findTransactionIds(kv, ids);
    const id = found.find((f) => f !== null) ?? null;
    return { primary, id, counters: null, split: splitOf(found) };
  }
  const r = await findWithCounters(kv, ids, hint.customer, cache);
  const counters = { entry: r.counters, for: hint.customer };
  return { primary, id: r.ids.find((f) => f !== null) ?? null, counters, split: splitOf(r.ids) };
}

/** Thrown from a build that found the payment split over two records (nothing written). */
class SplitPayment extends Error {}

/**
 * Points every Stripe id of this transaction at it, claiming ids nobody holds yet.
 * `splitIfHeld`: the event's own ids; one of them held by another record now (a stub
 * committed since this build located the payment, by another isolate or another intake
 * lane: an object naming only the charge has no customer to share a lane by) is a split
 * payment, merged first as one found when locating it.
 */
async function addLinks(
  kv: Deno.Kv,
  op: Deno.AtomicOperation,
  sync: TxnSync,
  ids: (string | null | undefined)[],
  { isNew, splitIfHeld }: { isNew: boolean; splitIfHeld: (string | null)[] },
): Promise<void> {
  for (const id of new Set(ids)) {
    if (!id || sync.linked.includes(id)) continue;
    if (!isNew) {
      const entry = await findTransactionId(kv, id);
      if (entry.value !== null && entry.value !== sync.txn_id && splitIfHeld.includes(id)) {
        throw new SplitPayment(`${entry.value} holds ${id}`);
      }
      // Held by another transaction (a stub of another payment, the merge refused): leave
      // it, both stay visible.
      if (entry.value !== null) {
        if (entry.value === sync.txn_id) sync.linked.push(id);
        continue;
      }
    }
    addStripeIdClaim(op, id, sync.txn_id);
    sync.linked.push(id);
  }
}

function describe(changes: Change[], txn: Transaction): string {
  const what = changes.map((c) => `${c.kind} ${(c.after as { id: string }).id}`).join(", ");
  return `${what} -> ${txn.id} (${txn.status})`;
}

export async function applyToTransaction(
  deps: Deps,
  svc: ApplierServices & { committer?: EventCommitter },
  input: TxnApplyInput,
): Promise<CommitResult> {
  const { kv } = deps;
  // The applier passes its own (group-committing) committer; direct callers get a fresh one.
  const committer = svc.committer ?? createEventCommitter(kv, svc.audit);
  const run = (merged: string | null, mergeTried: boolean) =>
    committer.commit(input.ctx, build(merged, mergeTried), input.commit);
  try {
    return await run(null, false);
  } catch (e) {
    if (!(e instanceof SplitPayment)) throw e;
  }
  // A charge-keyed stub first joins the payment's record (its own audited commit).
  const merged = await mergeSplitPayment(
    deps,
    {
      committer,
      mergeHooks: svc.mergeHooks,
    },
    input.refs,
    input.ctx,
    { plainOnly: input.commit?.plainOnly },
  );
  // Not merged (the other record is another payment): applied where it was found.
  const result = await run(merged, true);
  return merged && !result.applied ? { ...result, applied: true, detail: merged } : result;

  function build(merged: string | null, mergeTried: boolean): EventBuild {
    return (op, audited, cache) =>
      buildChange(deps, svc, input, { merged, mergeTried }, { op, audited, cache });
  }
}

/** The one commit of an event's change to its transaction (see the module comment). */
async function buildChange(
  deps: Deps,
  svc: ApplierServices,
  input: TxnApplyInput,
  { merged, mergeTried }: { merged: string | null; mergeTried: boolean },
  { op, audited, cache }: {
    op: Deno.AtomicOperation;
    audited: boolean;
    cache: CounterCache | null;
  },
): Promise<{ value: { applied: boolean; detail: string }; audit: AuditInput[] }> {
  const { kv, clock } = deps;
  const now = clock.now();
  const found = await locateTransaction(kv, input.refs, input.counterHint ?? null, cache);
  if (found.split && !mergeTried) {
    throw new SplitPayment(`${found.split} holds ${input.refs.charge}`);
  }
  const id = found.id ?? svc.newId("txn");
  const state = found.id ? await readTransactionState(kv, found.id) : null;
  if (state) op.check(state.txn, state.sync);
  const sync = state?.sync.value ? structuredClone(state.sync.value) : emptySync(id, input.refs.pi);
  if (input.eventId && sync.events.includes(input.eventId)) {
    noChange(`duplicate: ${input.eventId} was already applied to ${id}`);
  }
  const changes = input.observations.map((o) => mergeObservation(sync, o, true))
    .filter((c): c is Change => c !== null);
  // After a merge the ledger still has to take what the stub brought.
  if (changes.length === 0 && !merged) {
    noChange(`stale or unchanged: ${id} already reflects this state`);
  }
  // Refund and dispute changes are audited (and their hooks may add entries).
  if (!audited && changes.some((c) => c.kind === "refund" || c.kind === "dispute")) {
    needsAudit();
  }
  sync.payment_intent ??= input.refs.pi;
  const before = state?.txn.value ?? null;
  const draft = deriveTransaction(sync, {
    id,
    amount_reserved: before?.amount_reserved ?? 0,
    stripe_payment_intent: sync.payment_intent,
  }, now);

  await addLinks(kv, op, sync, [
    found.primary,
    input.refs.charge,
    sync.pi?.latest_charge,
    ...Object.keys(sync.charges),
  ], {
    isNew: found.id === null,
    splitIfHeld: mergeTried ? [] : [input.refs.pi, input.refs.charge],
  });

  const hooked = await runChangeHooks(op, svc, changes, draft, {
    audited,
    stripeRequest: input.stripeRequest,
    created: found.id === null,
  }); // may move draft's amounts
  const audit = [...auditEntriesFor(changes, before, draft, input.stripeRequest), ...hooked];

  const moved = await addCounters(kv, op, {
    sync,
    before: state?.sync.value ?? null,
    draft,
    id,
    now,
    newId: svc.newId,
    counters: found.counters,
  });

  if (input.eventId) sync.events = [...sync.events, input.eventId].slice(-MAX_EVENT_IDS);
  const txn = sameTransaction(before, draft) ? before! : draft;
  addTransactionWrite(op, before, txn, sync, txn !== before);
  // the event log keeps the merge with the change (the caller's hook records this value)
  const detail = moved ? `${describe(changes, txn)}; ${moved}` : describe(changes, txn);
  return { value: { applied: true, detail: merged ? `${merged}; ${detail}` : detail }, audit };
}
