/**
 * Group commit for plain ingestion: changes to disjoint keys share one KV
 * commit, since a commit's fixed cost (and the hop to KV's writer) is most of
 * what one event's writes cost.
 *
 * A change is built as soon as it is submitted, into a recording of its
 * checks and mutations, while the group before it is still committing; when
 * that group lands, whatever has been built goes out as the next one (after
 * waiting briefly for builds under way, which are a read away). The next
 * group is sent before the landed one is answered, so answering (the
 * callers' continuations) overlaps KV writing it.
 *
 * A build that read before a landed group changed one of its keys, or that
 * overlaps another build of its group, is built again rather than sent to
 * fail; a refused group runs each build again on its own (`commitChecked`),
 * so a change is never lost and never applied on stale reads.
 *
 * Overlap is told by the keys builds `check`: a build checks every key whose
 * value it read (the OCC rule), and writes to shared keys without a check do
 * not depend on what is there, so grouping them changes nothing. Comparing
 * checks only (a handful per event, not every index write) keeps this cheap.
 */
import { commitChecked } from "../kv/atomic.ts";

const COMMIT_ATTEMPTS = 20;
// KV allows 100 checks and 1000 mutations per atomic op.
const GROUP_MAX_ITEMS = 16;
const GROUP_MAX_CHECKS = 90;
const GROUP_MAX_MUTATIONS = 800;
/** Landed groups whose keys are remembered, to tell a build made before them from one after. */
const LANDED_KEPT = 8;

type Recorded =
  | { kind: "check"; check: Deno.AtomicCheck }
  | { kind: "set"; key: Deno.KvKey; value: unknown; options?: { expireIn?: number } }
  | { kind: "delete"; key: Deno.KvKey };

/** An AtomicOperation that only writes down what a build asks of it. */
export function recordingOp() {
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
    checkedKeys(): string[] {
      const out: string[] = [];
      for (const o of ops) if (o.kind === "check") out.push(JSON.stringify(o.check.key));
      return out;
    },
    replay(target: Deno.AtomicOperation): void {
      for (const o of ops) {
        if (o.kind === "check") target.check(o.check);
        else if (o.kind === "set") target.set(o.key, o.value, o.options);
        else target.delete(o.key);
      }
    },
  };
}

export type Recording = ReturnType<typeof recordingOp>;

/** Builds one change into a fresh recording; runs again from scratch when asked. */
export type GroupBuild<T> = () => Promise<{ rec: Recording; value: T }>;

interface Pending<T> {
  build: GroupBuild<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

interface Built<T> {
  p: Pending<T>;
  rec: Recording;
  value: T;
  /** the keys it checked */
  keys: string[];
  /** groups landed when the build started reading */
  since: number;
}

interface Group<T> {
  taken: Built<T>[];
  touched: Set<string>;
  /** builds overlapping this group, built again once it lands */
  rebuild: Pending<T>[];
  /** the commit in flight: whether KV accepted it */
  landed: Promise<boolean>;
}

/**
 * Resolves when all of `builds` have settled. No timeout: a build only reads
 * KV, so it settles as soon as KV answers (a timer here would cost more than
 * the wait it bounds, on every group).
 */
function settled(builds: Iterable<Promise<void>>): Promise<void> {
  return Promise.allSettled(builds).then(() => {});
}

export function createGroupCommitter<T>(kv: Deno.Kv) {
  const ready: Built<T>[] = [];
  const building = new Set<Promise<void>>();
  let flushing = false;
  let landedCount = 0;
  /** checked key -> the group (by count) that last checked it, over the last `LANDED_KEPT` groups */
  const lastTouched = new Map<string, number>();

  function alone(p: Pending<T>): void {
    commitChecked(kv, async (op) => {
      const { rec, value } = await p.build();
      rec.replay(op);
      return value;
    }, { attempts: COMMIT_ATTEMPTS, what: "the transaction" })
      .then((r) => p.resolve(r.value), p.reject);
  }

  function prepare(p: Pending<T>): void {
    const since = landedCount;
    const done: Promise<void> = p.build().then(
      ({ rec, value }) => {
        ready.push({ p, rec, value, keys: rec.checkedKeys(), since });
      },
      (e) => p.reject(e),
    ).finally(() => {
      building.delete(done);
      if (!flushing) flush();
    });
    building.add(done);
  }

  function stale(b: Built<T>): boolean {
    if (b.since === landedCount) return false;
    if (b.since < landedCount - LANDED_KEPT) return true; // older than what is remembered
    return b.keys.some((k) => (lastTouched.get(k) ?? 0) > b.since);
  }

  function land(group: Group<T>): void {
    landedCount++;
    for (const k of group.touched) lastTouched.set(k, landedCount);
    if (landedCount % LANDED_KEPT === 0) {
      for (const [k, n] of lastTouched) if (n <= landedCount - LANDED_KEPT) lastTouched.delete(k);
    }
  }

  /** Packs what is ready into one atomic op and sends it; null when nothing could go. */
  function startGroup(batch: Built<T>[]): Group<T> | null {
    const op = kv.atomic();
    const taken: Built<T>[] = [];
    const touched = new Set<string>();
    const rebuild: Pending<T>[] = [];
    let checks = 0, mutations = 0;
    for (const b of batch) {
      if (stale(b)) {
        prepare(b.p);
        continue;
      }
      const c = b.keys.length;
      const m = b.rec.ops.length - c;
      const fits = taken.length < GROUP_MAX_ITEMS && checks + c <= GROUP_MAX_CHECKS &&
        mutations + m <= GROUP_MAX_MUTATIONS;
      if (taken.length && !fits) {
        ready.push(b); // overflows this group: it goes in the next one
        continue;
      }
      if (b.keys.some((k) => touched.has(k))) {
        rebuild.push(b.p); // read what this group changes: built again once it lands
        continue;
      }
      b.rec.replay(op);
      for (const k of b.keys) touched.add(k);
      checks += c;
      mutations += m;
      taken.push(b);
    }
    if (!taken.length) {
      for (const p of rebuild) prepare(p);
      return null;
    }
    // A commit that throws (too large, say) is refused like one that fails its checks.
    const landed = op.commit().then((r) => r.ok, () => false);
    return { taken, touched, rebuild, landed };
  }

  /** Answers a landed group's callers; a refused group runs each build again on its own. */
  function answer(group: Group<T>, ok: boolean): void {
    for (const t of group.taken) {
      if (ok) t.p.resolve(t.value);
      else alone(t.p);
    }
  }

  async function flush(): Promise<void> {
    flushing = true;
    try {
      let previous: { group: Group<T>; ok: boolean } | null = null;
      for (;;) {
        // Builds under way are a read and some arithmetic away: the group waits for them
        // rather than leave them a commit of their own.
        if (building.size && ready.length < GROUP_MAX_ITEMS) await settled(building);
        const next = ready.length ? startGroup(ready.splice(0, ready.length)) : null;
        if (previous) answer(previous.group, previous.ok);
        if (!next) break;
        const ok = await next.landed;
        land(next);
        for (const p of next.rebuild) prepare(p);
        previous = { group: next, ok };
      }
    } finally {
      flushing = false;
    }
  }

  /** Builds `build` now and commits it with whatever else is ready; its value once it landed. */
  function submit(build: GroupBuild<T>): Promise<T> {
    return new Promise((resolve, reject) => prepare({ build, resolve, reject }));
  }

  return { submit };
}
