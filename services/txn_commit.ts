/**
 * How an event's change reaches KV. A change to money or a case goes through
 * `audit.commit` (its audit entries in the same commit). Plain ingestion, the
 * bulk of Stripe's traffic, is group-committed: builds waiting while a commit
 * is in flight share the next one, since a commit's fixed cost (the fsync)
 * dwarfs what one event writes. Builds in one group touch disjoint keys; if
 * the group's commit is refused, each build runs again on its own.
 */
import type { AuditInput, AuditService } from "./audit.ts";
import type { CallContext } from "./context.ts";
import { commitChecked } from "../kv/atomic.ts";

export interface ApplyOutcome {
  applied: boolean;
  detail: string;
}

/** `audited`: running inside `audit.commit` (false: a plain build, which must call `needsAudit()` to switch). */
export type EventBuild = (
  op: Deno.AtomicOperation,
  audited: boolean,
) => Promise<{ value: ApplyOutcome; audit: AuditInput[] }>;

/** Thrown from a build to leave without writing anything. */
class NoChange extends Error {
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

const COMMIT_ATTEMPTS = 20;
// KV allows 100 checks and 1000 mutations per atomic op.
const GROUP_MAX_ITEMS = 16;
const GROUP_MAX_CHECKS = 90;
const GROUP_MAX_MUTATIONS = 800;

type Recorded =
  | { kind: "check"; check: Deno.AtomicCheck }
  | { kind: "set"; key: Deno.KvKey; value: unknown; options?: { expireIn?: number } }
  | { kind: "delete"; key: Deno.KvKey };

/** An AtomicOperation that only writes down what a build asks of it. */
function recordingOp() {
  const ops: Recorded[] = [];
  const unsupported = (what: string) => () => {
    throw new Error(`${what} is not supported in a group-committed build`);
  };
  const op = {
    check(...checks: Deno.AtomicCheck[]) {
      for (const check of checks) ops.push({ kind: "check", check });
      return op;
    },
    set(key: Deno.KvKey, value: unknown, options?: { expireIn?: number }) {
      ops.push({ kind: "set", key, value, options });
      return op;
    },
    delete(key: Deno.KvKey) {
      ops.push({ kind: "delete", key });
      return op;
    },
    mutate: unsupported("mutate"),
    sum: unsupported("sum"),
    min: unsupported("min"),
    max: unsupported("max"),
    enqueue: unsupported("enqueue"),
    commit: unsupported("commit"),
  };
  return {
    op: op as unknown as Deno.AtomicOperation,
    ops,
    keys: () => ops.map((o) => JSON.stringify(o.kind === "check" ? o.check.key : o.key)),
    checks: () => ops.filter((o) => o.kind === "check").length,
    replay(target: Deno.AtomicOperation): void {
      for (const o of ops) {
        if (o.kind === "check") target.check(o.check);
        else if (o.kind === "set") target.set(o.key, o.value, o.options);
        else target.delete(o.key);
      }
    },
  };
}

interface Pending {
  build: EventBuild;
  resolve: (v: ApplyOutcome) => void;
  reject: (e: unknown) => void;
}

export function createEventCommitter(kv: Deno.Kv, audit: AuditService) {
  const queue: Pending[] = [];
  let flushing = false;

  function plainAlone(build: EventBuild): Promise<ApplyOutcome> {
    return commitChecked(kv, async (op) => {
      const built = await build(op, false);
      if (built.audit.length) needsAudit();
      return built.value;
    }, { attempts: COMMIT_ATTEMPTS, what: "the transaction" }).then((r) => r.value);
  }

  async function runGroup(group: Pending[]): Promise<void> {
    const built = await Promise.all(group.map(async (p) => {
      const rec = recordingOp();
      try {
        const r = await p.build(rec.op, false);
        if (r.audit.length) needsAudit();
        return { p, rec, value: r.value };
      } catch (e) {
        p.reject(e);
        return null;
      }
    }));
    const op = kv.atomic();
    const taken: { p: Pending; value: ApplyOutcome }[] = [];
    const later: Pending[] = [];
    const touched = new Set<string>();
    let checks = 0, mutations = 0;
    for (const b of built) {
      if (!b) continue;
      const keys = b.rec.keys();
      const c = b.rec.checks();
      const m = b.rec.ops.length - c;
      const fits = checks + c <= GROUP_MAX_CHECKS && mutations + m <= GROUP_MAX_MUTATIONS;
      if (taken.length && (!fits || keys.some((k) => touched.has(k)))) {
        later.push(b.p); // overlaps (or overflows) this group: it goes in the next one
        continue;
      }
      b.rec.replay(op);
      for (const k of keys) touched.add(k);
      checks += c;
      mutations += m;
      taken.push({ p: b.p, value: b.value });
    }
    queue.unshift(...later);
    if (taken.length === 0) return;
    let ok = false;
    try {
      ok = (await op.commit()).ok;
    } catch {
      ok = false; // too large, say: alone, each meets its own fate
    }
    if (ok) {
      for (const t of taken) t.p.resolve(t.value);
      return;
    }
    await Promise.all(taken.map((t) => plainAlone(t.p.build).then(t.p.resolve, t.p.reject)));
  }

  async function flush(): Promise<void> {
    flushing = true;
    try {
      while (queue.length) await runGroup(queue.splice(0, GROUP_MAX_ITEMS));
    } finally {
      flushing = false;
    }
  }

  function plain(build: EventBuild): Promise<ApplyOutcome> {
    return new Promise((resolve, reject) => {
      queue.push({ build, resolve, reject });
      if (!flushing) flush();
    });
  }

  /**
   * Runs `build` as plain ingestion (group-committed) or, when it calls
   * `needsAudit()` or returns entries, again from scratch through `audit.commit`.
   * A build that calls `noChange()` writes nothing and answers its outcome.
   */
  async function commit(ctx: CallContext, build: EventBuild): Promise<ApplyOutcome> {
    try {
      return await plain(build);
    } catch (e) {
      if (e instanceof NoChange) return e.outcome;
      if (!(e instanceof NeedsAudit)) throw e;
    }
    try {
      return await audit.commit(ctx, (op) => build(op, true));
    } catch (e) {
      if (e instanceof NoChange) return e.outcome;
      throw e;
    }
  }

  return { commit };
}

export type EventCommitter = ReturnType<typeof createEventCommitter>;
