/**
 * Appending to the chain. It has one head key, so every append contends on
 * it: within this isolate appends are serialized by a queue (one per KV
 * handle, shared by every service instance on it), and a burst of `record()`
 * calls waiting in the queue goes out as one commit; audited changes
 * (`commit()`) waiting together are built at once and share commits
 * (group.ts). Across isolates the versionstamp check on the head is the
 * guard: a lost race runs the change again.
 *
 * Why not the ingest group committer (kv/group_commit.ts): every append
 * changes the one head key, so no two appends may share a group there; here
 * a burst shares one commit because one build chains all its entries after
 * the head it read. What both share is the batch sizing (`BatchMeter`).
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import {
  type AuditInput,
  chainEntries,
  estimateBytes,
  type PendingEntry,
  pendingEntry,
} from "./entry.ts";
import { addEntries, readHead } from "../../kv/audit.ts";
import { GENESIS_HEAD } from "../../domain/audit_entry.ts";
import { commitChecked, isKvLocked } from "../../kv/atomic.ts";
import { createIdFactory } from "../../core/ids.ts";
import { AppError } from "../../core/errors.ts";
import { BatchMeter, KV_BATCH } from "../../core/kv_limits.ts";
import { systemClock } from "../../core/clock.ts";
import {
  type ChainSource,
  GROUP_MAX_CHANGES,
  type GroupState,
  type GroupTask,
  runGroup,
} from "./group.ts";

/**
 * An entry costs up to 4 mutations (the entry and three indexes) and under
 * 1 KiB of keys (index parts are capped), so `KV_BATCH` leaves room for the
 * change itself and for KV's 80 KiB of keys.
 */
const ENTRY_MUTATIONS = 4;
const BATCH_MAX_ENTRIES = 64;
/** entries one audited change may append (its own mutations share the op) */
export const COMMIT_MAX_ENTRIES = Math.floor(KV_BATCH.mutations / ENTRY_MUTATIONS);
const APPEND_ATTEMPTS = 30;
const BUSY_ATTEMPTS = 20;

type Build<T> = (op: Deno.AtomicOperation) => Promise<{ value: T; pending: PendingEntry[] }>;
/** Runs `build`, chains its entries after the head and commits, retrying lost races. */
export type Append = <T>(build: Build<T>) => Promise<T>;

interface RecordTask {
  kind: "record";
  append: Append;
  pending: PendingEntry;
  bytes: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface CommitTask extends GroupTask {
  kind: "commit";
}

type Task = RecordTask | CommitTask;

interface AppendQueue {
  tasks: Task[];
  draining: boolean;
  /** audited changes are grouped (group.ts) */
  group: GroupState;
}

const queues = new WeakMap<Deno.Kv, AppendQueue>();

function queueFor(kv: Deno.Kv): AppendQueue {
  let q = queues.get(kv);
  if (!q) {
    const group: GroupState = {
      kv,
      now: Date.now,
      newId: () => "",
      head: null,
      maxEntries: COMMIT_MAX_ENTRIES,
    };
    queues.set(kv, q = { tasks: [], draining: false, group });
  }
  return q;
}

/** The clock and ids an appender's entries take (`enqueueCommit`'s `chain`). */
export function chainSource(clock: Deps["clock"]): ChainSource {
  const newId = createIdFactory(clock);
  return { now: () => clock.now(), newId: () => newId("aud") };
}

export function createAppender(deps: Pick<Deps, "kv" | "clock">): Append {
  const { kv, clock } = deps;
  const newId = createIdFactory(clock);

  async function once<T>(build: Build<T>): Promise<T> {
    const { value } = await commitChecked(kv, async (op) => {
      const built = await build(op);
      const head = await readHead(kv);
      const entries = await chainEntries(
        head.value ?? GENESIS_HEAD,
        built.pending,
        clock.now(),
        () => newId("aud"),
      );
      addEntries(op, head, entries);
      return built.value;
    }, { attempts: APPEND_ATTEMPTS, what: "the audit log" });
    return value;
  }

  return async function append<T>(build: Build<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        return await once(build);
      } catch (e) {
        // A local SQLite KV shared with another process (the admin CLI, a second
        // server) can be briefly locked; nothing was written, so try again.
        if (!isKvLocked(e) || attempt >= BUSY_ATTEMPTS) throw e;
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 10 * attempt));
      }
    }
  };
}

async function runRecords(batch: RecordTask[]): Promise<void> {
  try {
    await batch[0].append(() =>
      Promise.resolve({ value: undefined, pending: batch.map((t) => t.pending) })
    );
    for (const t of batch) t.resolve();
  } catch (e) {
    for (const t of batch) t.reject(e);
  }
}

async function drain(queue: AppendQueue): Promise<void> {
  if (queue.draining) return;
  queue.draining = true;
  try {
    while (queue.tasks.length > 0) {
      const first = queue.tasks.shift()!;
      if (first.kind === "commit") {
        const group: GroupTask[] = [first];
        const joins = () => queue.tasks[0]?.kind === "commit" && queue.tasks[0].shared;
        while (first.shared && joins() && group.length < GROUP_MAX_CHANGES) {
          group.push(queue.tasks.shift() as CommitTask);
        }
        const again = await runGroup(queue.group, group);
        queue.tasks.unshift(...again.map((t) => ({ ...t, kind: "commit" as const })));
        continue;
      }
      const batch: RecordTask[] = [first];
      const meter = new BatchMeter(BATCH_MAX_ENTRIES);
      meter.add({ mutations: ENTRY_MUTATIONS, bytes: first.bytes });
      for (let next = queue.tasks[0]; next?.kind === "record"; next = queue.tasks[0]) {
        const cost = { mutations: ENTRY_MUTATIONS, bytes: next.bytes };
        if (!meter.fits(cost)) break;
        meter.add(cost);
        batch.push(queue.tasks.shift() as RecordTask);
      }
      await runRecords(batch);
      queue.group.head = null; // moved by the records' commit
    }
  } finally {
    queue.draining = false;
  }
}

/**
 * Queues an audited change; see `AuditService.commit`. Shared changes waiting
 * together share commits (group.ts); any other commits alone. `chain` gives
 * their entries' time and ids (default: the system clock).
 */
export function enqueueCommit<T>(
  kv: Deno.Kv,
  ctx: CallContext,
  build: (op: Deno.AtomicOperation) => Promise<{ value: T; audit: AuditInput[] }>,
  chain: ChainSource = chainSource(systemClock),
  shared = false,
): Promise<T> {
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  const queue = queueFor(kv);
  queue.tasks.push({
    kind: "commit",
    chain,
    shared,
    stale: 0,
    ctx,
    build,
    resolve: resolve as (v: unknown) => void,
    reject,
  });
  void drain(queue);
  return promise;
}

/** Queues a lone entry; queued ones are batched into one commit. */
export function enqueueRecord(
  kv: Deno.Kv,
  append: Append,
  ctx: CallContext,
  input: AuditInput,
): Promise<void> {
  let pending: PendingEntry;
  try {
    pending = pendingEntry(ctx, input);
  } catch (e) {
    return Promise.reject(
      new AppError("internal", "the audit entry could not be encoded", { cause: e }),
    );
  }
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const queue = queueFor(kv);
  queue.tasks.push({
    kind: "record",
    append,
    pending,
    bytes: estimateBytes(pending),
    resolve,
    reject,
  });
  void drain(queue);
  return promise;
}
