/**
 * Group commit for plain ingestion: changes to disjoint keys share one KV
 * commit, since a commit's fixed cost (the fsync, the hop to KV's writer) is
 * most of what one event's writes cost.
 *
 * A change is built as soon as it is submitted, into a recording of its
 * checks and mutations. A finished build is placed at once into the next
 * group, a real atomic op, so serializing its values happens while the groups
 * before it are still committing. Up to `MAX_IN_FLIGHT` groups are sent
 * without waiting for the one before to land: KV's writer goes from one
 * straight to the next instead of idling while this isolate learns that a
 * group landed and sends another. A landed group
 * sends the next before its callers are answered, so their continuations
 * (answers, the next deliveries' verification and builds) overlap the
 * commits in flight.
 *
 * A build that may have read before a group changed one of its keys (a group
 * that landed since it started reading, or one in flight) is built again
 * rather than sent to fail; a build that reads what the next group changes
 * waits for a later group. A refused group runs each build again on its own
 * (`commitChecked`), so a change is never lost and never applied on stale
 * reads; the groups sent after it never hold a build that read one of its
 * keys, so they stand or fall on their own checks.
 *
 * Overlap is told by the keys builds `check`: a build checks every key whose
 * value it read (the OCC rule), and writes to shared keys without a check do
 * not depend on what is there, so grouping them changes nothing. Comparing
 * checks only (a handful per event, not every index write) keeps this cheap.
 *
 * Groups are sized by `BatchMeter` against `KV_BATCH`, as the webhook and
 * audit batches are; those two stay separate for what they do differently
 * (see services/webhooks/batch.ts and services/audit/append.ts).
 */
import { commitChecked } from "./atomic.ts";
import { BatchMeter } from "../core/kv_limits.ts";
import type { CounterCache } from "./read_cache.ts";

const COMMIT_ATTEMPTS = 20;
/**
 * Fewer, larger commits cost KV less per event; with about four checks an
 * event, `KV_BATCH.checks` closes a group of new payments near 22 first.
 */
const GROUP_MAX_ITEMS = 32;
/** Landed groups whose keys are remembered, to tell a build made before them from one after. */
const LANDED_KEPT = 8;
/**
 * Groups sent and not yet landed. Two keep KV's writer busy (one commits
 * while the next waits its turn); more only make the groups smaller.
 */
const MAX_IN_FLIGHT = 2;

type Recorded =
  | { kind: "check"; check: Deno.AtomicCheck }
  | { kind: "set"; key: Deno.KvKey; value: unknown; options?: { expireIn?: number } }
  | { kind: "delete"; key: Deno.KvKey }
  | { kind: "sum"; key: Deno.KvKey; n: bigint };

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
    sum(key: Deno.KvKey, n: bigint) {
      ops.push({ kind: "sum", key, n });
      return op;
    },
    mutate: unsupported("mutate"),
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
        else if (o.kind === "sum") target.sum(o.key, o.n);
        else target.delete(o.key);
      }
    },
  };
}

export type Recording = ReturnType<typeof recordingOp>;

/**
 * Builds one change into a fresh recording; runs again from scratch when
 * asked. `fresh`: read everything from KV, not from the counter cache (a
 * build run again after its group was refused).
 */
export type GroupBuild<T> = (fresh: boolean) => Promise<{ rec: Recording; value: T }>;

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
  /** builds overlapping this group while it was in flight, built again once it lands */
  rebuild: Pending<T>[];
}

/** The group being filled while another commits. */
interface NextGroup<T> {
  op: Deno.AtomicOperation;
  taken: Built<T>[];
  touched: Set<string>;
  meter: BatchMeter;
}

/**
 * `cache`: told what each landed group wrote (with its versionstamp), and
 * told to forget what a refused group checked, so builds may read a
 * customer's counters from it (kv/read_cache.ts).
 */
export function createGroupCommitter<T>(kv: Deno.Kv, cache: CounterCache | null = null) {
  const committer = new GroupCommitter<T>(kv, cache);
  return { submit: (build: GroupBuild<T>) => committer.submit(build) };
}

class GroupCommitter<T> {
  /** built, waiting for a later group (the next one was full, or changes what they read) */
  #held: Built<T>[] = [];
  /** sent and not yet landed, oldest first */
  #inflight: Group<T>[] = [];
  #next: NextGroup<T> | null = null;
  #landedCount = 0;
  /** checked key -> the group (by count) that last checked it, over the last `LANDED_KEPT` groups */
  readonly #lastTouched = new Map<string, number>();
  readonly #kv: Deno.Kv;
  readonly #cache: CounterCache | null;

  constructor(kv: Deno.Kv, cache: CounterCache | null) {
    this.#kv = kv;
    this.#cache = cache;
  }

  /** Builds `build` now and commits it with whatever else is ready; its value once it landed. */
  submit(build: GroupBuild<T>): Promise<T> {
    return new Promise((resolve, reject) => this.#prepare({ build, resolve, reject }));
  }

  #alone(p: Pending<T>): void {
    let last: Recording | null = null;
    commitChecked(this.#kv, async (op) => {
      const { rec, value } = await p.build(true);
      rec.replay(op);
      last = rec;
      return value;
    }, { attempts: COMMIT_ATTEMPTS, what: "the transaction" })
      .then((r) => {
        this.#remember(last!, r.versionstamp);
        p.resolve(r.value);
      }, p.reject);
  }

  #remember(rec: Recording, versionstamp: string): void {
    if (!this.#cache) return;
    for (const o of rec.ops) if (o.kind === "set") this.#cache.wrote(o.key, o.value, versionstamp);
  }

  #prepare(p: Pending<T>): void {
    const since = this.#landedCount;
    p.build(false).then(
      ({ rec, value }) => {
        try {
          this.#place({ p, rec, value, keys: rec.checkedKeys(), since });
        } catch (e) {
          p.reject(e);
        }
      },
      (e) => p.reject(e),
    ).finally(() => this.#pump());
  }

  #stale(b: Built<T>): boolean {
    if (b.since === this.#landedCount) return false;
    if (b.since < this.#landedCount - LANDED_KEPT) return true; // older than what is remembered
    return b.keys.some((k) => (this.#lastTouched.get(k) ?? 0) > b.since);
  }

  /** Puts a finished build into the next group (serializing its values now), or holds it. */
  #place(b: Built<T>): void {
    if (this.#stale(b)) return this.#prepare(b.p);
    // Built again once the newest group in flight it overlaps has landed (and placed again then,
    // so any other still in flight that it overlaps is waited for too).
    for (let i = this.#inflight.length - 1; i >= 0; i--) {
      const sent = this.#inflight[i];
      if (b.keys.some((k) => sent.touched.has(k))) {
        sent.rebuild.push(b.p); // may have read before that group lands
        return;
      }
    }
    const next = this.#next ??= {
      op: this.#kv.atomic(),
      taken: [],
      touched: new Set(),
      meter: new BatchMeter(GROUP_MAX_ITEMS),
    };
    const cost = { checks: b.keys.length, mutations: b.rec.ops.length - b.keys.length };
    if (!next.meter.fits(cost) || b.keys.some((k) => next.touched.has(k))) {
      this.#held.push(b); // a later group: this one is full, or changes what it read
      return;
    }
    try {
      b.rec.replay(next.op);
    } catch (error) {
      // A value KV cannot take (not serializable): this change fails on its own, and the
      // group's others go into a fresh op, as this one may hold part of it.
      const others = next.taken;
      this.#next = null;
      for (const o of others) this.#place(o);
      throw error;
    }
    for (const k of b.keys) next.touched.add(k);
    next.meter.add(cost);
    next.taken.push(b);
  }

  #land(group: Group<T>): void {
    const landed = ++this.#landedCount;
    for (const k of group.touched) this.#lastTouched.set(k, landed);
    if (landed % LANDED_KEPT === 0) {
      for (const [k, n] of this.#lastTouched) {
        if (n <= landed - LANDED_KEPT) this.#lastTouched.delete(k);
      }
    }
  }

  /** Sends the next group; when it lands, sends the one after (if any) and only then answers. */
  #send(): void {
    const open = this.#next!;
    this.#next = null;
    const group: Group<T> = { taken: open.taken, touched: open.touched, rebuild: [] };
    this.#inflight.push(group);
    // A commit that throws (too large, say) is refused like one that fails its checks.
    open.op.commit().then((r) => (r.ok ? r.versionstamp : null), () => null).then(
      (versionstamp) => this.#landed(group, versionstamp),
    );
  }

  #landed(group: Group<T>, versionstamp: string | null): void {
    const ok = versionstamp !== null;
    this.#inflight = this.#inflight.filter((g) => g !== group);
    this.#land(group);
    if (ok) { for (const t of group.taken) this.#remember(t.rec, versionstamp); }
    else this.#cache?.forget(group.touched); // what its builds read may be stale
    const waiting = this.#held;
    this.#held = [];
    for (const b of waiting) this.#place(b);
    this.#pump();
    for (const t of group.taken) {
      if (ok) t.p.resolve(t.value);
      else this.#alone(t.p);
    }
    for (const p of group.rebuild) this.#prepare(p);
  }

  #pump(): void {
    if (this.#inflight.length < MAX_IN_FLIGHT && this.#next) this.#send();
  }
}
