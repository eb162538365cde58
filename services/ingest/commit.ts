/**
 * How an event's change reaches KV. A change to money or a case goes through
 * `audit.commit` (its audit entries in the same commit). Plain ingestion, the
 * bulk of Stripe's traffic, is group-committed (kv/group_commit.ts):
 * changes to disjoint keys share one commit; a refused group runs each build
 * again on its own.
 *
 * A caller may add its own writes to the commit that applies the change
 * (`alsoInCommit`: the webhook log recording the event as processed), and may
 * ask for plain ingestion only (`plainOnly`: the webhook intake, which must
 * not queue on the audit chain before answering Stripe).
 */
import { type AuditInput, type AuditService } from "../audit/mod.ts";
import type { CallContext } from "../../domain/actor.ts";
import { createGroupCommitter, type Recording, recordingOp } from "../../kv/group_commit.ts";
import type { CounterCache } from "../../kv/read_cache.ts";
import { watchedAtomic } from "../../kv/atomic.ts";

export interface ApplyOutcome {
  applied: boolean;
  detail: string;
  /** not applied because the service does not process this type or object (not: no change) */
  notProcessed?: true;
}

/**
 * The caller's own checks and writes for the commit that applies an event
 * (the webhook log recording it as processed, say). It runs after the build,
 * again on every rerun, and also when the build changes nothing (then its
 * writes are committed alone); `outcome` is what the build decided. Same
 * rules as a build: no side effects outside `op`; throwing aborts.
 */
export type CommitHook = (op: Deno.AtomicOperation, outcome: ApplyOutcome) => void | Promise<void>;

export interface CommitOptions {
  alsoInCommit?: CommitHook;
  /**
   * Plain ingestion only (the webhook intake, answering Stripe): a build that
   * needs the audit chain is not run through it; `commit` throws `Deferred`
   * and nothing is written.
   */
  plainOnly?: boolean;
}

export interface CommitResult extends ApplyOutcome {
  /** `alsoInCommit`'s writes were committed with the change */
  joined?: boolean;
}

/**
 * `audited`: running inside `audit.commit` (false: a plain build, which must
 * call `needsAudit()` to switch). `cache`: the counter cache the build may
 * read a customer's counters from (checked at commit like any read), or null
 * when it must read them from KV.
 */
export type EventBuild = (
  op: Deno.AtomicOperation,
  audited: boolean,
  cache: CounterCache | null,
) => Promise<{ value: ApplyOutcome; audit: AuditInput[] }>;
import { defer } from "../../core/keyed_lock.ts";
export { defer, Deferred } from "../../core/keyed_lock.ts";

/** Thrown from a build to leave without writing anything. */
export class NoChange extends Error {
  constructor(readonly outcome: ApplyOutcome) {
    super(outcome.detail);
  }
}

/** Thrown from a plain build that turns out to need audit entries. */
class NeedsAudit extends Error {}

export function noChange(detail: string): never {
  throw new NoChange({ applied: false, detail });
}

/** Leaves a plain build as soon as it knows it needs the audit chain. */
export function needsAudit(): never {
  throw new NeedsAudit();
}

/**
 * Runs a plain build (and the caller's hook) into a recording. With a hook,
 * "no change" still commits the hook's writes: the build's own checks are
 * dropped then, as it wrote nothing that depends on them.
 */
async function buildPlain(
  build: EventBuild,
  hook: CommitHook | null,
  cache: CounterCache | null,
): Promise<{ rec: Recording; value: CommitResult }> {
  let rec = recordingOp();
  let value: ApplyOutcome;
  try {
    const built = await build(rec.op, false, cache);
    if (built.audit.length) needsAudit();
    value = built.value;
  } catch (e) {
    if (!(e instanceof NoChange) || !hook) throw e;
    rec = recordingOp();
    value = e.outcome;
  }
  if (!hook) return { rec, value };
  await hook(rec.op, value);
  return { rec, value: { ...value, joined: true } };
}

/**
 * `cache` (the event applier's): plain builds read a customer's counters
 * from it, except when built again after a refused group; the audited path
 * reads KV and forgets what it checked, as its commit may change them.
 */
export function createEventCommitter(
  kv: Deno.Kv,
  audit: AuditService,
  cache: CounterCache | null = null,
) {
  const groups = createGroupCommitter<CommitResult>(kv, cache);

  function plain(build: EventBuild, hook: CommitHook | null): Promise<CommitResult> {
    return groups.submit((fresh) => buildPlain(build, hook, fresh ? null : cache));
  }

  /**
   * Runs `build` as plain ingestion (group-committed) or, when it calls
   * `needsAudit()` or returns entries, again from scratch through `audit.commit`
   * (unless `plainOnly`: then `Deferred` is thrown). A build that calls
   * `noChange()` writes nothing and answers its outcome; `alsoInCommit`'s
   * writes are still committed then, except on the audited path (`joined` unset).
   */
  async function commit(
    ctx: CallContext,
    build: EventBuild,
    options: CommitOptions = {},
  ): Promise<CommitResult> {
    const hook = options.alsoInCommit ?? null;
    try {
      return await plain(build, hook);
    } catch (e) {
      if (e instanceof NoChange) return e.outcome;
      if (!(e instanceof NeedsAudit)) throw e;
    }
    if (options.plainOnly) defer("the change needs the audit chain");
    const checked: string[] = [];
    try {
      return await audit.commit(ctx, async (op) => {
        const built = await build(notingChecks(op, checked), true, null);
        if (!hook) return built;
        await hook(op, built.value);
        return { value: { ...built.value, joined: true }, audit: built.audit };
      });
    } catch (e) {
      if (e instanceof NoChange) return e.outcome;
      throw e;
    } finally {
      cache?.forget(checked);
    }
  }

  return { commit };
}

export type EventCommitter = ReturnType<typeof createEventCommitter>;

/** `op`, noting the key of every check (as `JSON.stringify(key)`) in `into`. */
function notingChecks(op: Deno.AtomicOperation, into: string[]): Deno.AtomicOperation {
  return watchedAtomic(op, { check: (c) => into.push(JSON.stringify(c.key)) });
}

/**
 * A committer for changes that are always audited (a refund or dispute the
 * service itself moved at Stripe): straight to `audit.commit` instead of
 * trying plain ingestion first (which would run the build twice). "Nothing
 * changed" (a webhook got there first) is `NoChange`, an error carrying the
 * outcome. It reads the customer's counters from KV (no counter cache); the
 * applier's cache, if it kept them, fails its next check and reads them again
 * (kv/read_cache.ts).
 */
export function auditedCommitter(audit: AuditService): EventCommitter {
  return {
    async commit(ctx, build) {
      try {
        return await audit.commit(ctx, (op) => build(op, true, null));
      } catch (e) {
        if (e instanceof NoChange) return e.outcome;
        throw e;
      }
    },
  };
}
