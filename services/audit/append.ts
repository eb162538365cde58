/**
 * Appending to the chain. It has one head key, so every append contends on
 * it: within this isolate appends are serialized by a queue (one per KV
 * handle, shared by every service instance on it), and a burst of `record()`
 * calls waiting in the queue goes out as one commit. Across isolates the
 * versionstamp check on the head is the guard: a lost race runs the whole
 * change again (`commitChecked`).
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
import { commitChecked } from "../../kv/atomic.ts";
import { createIdFactory } from "../../core/ids.ts";
import { AppError } from "../../core/errors.ts";

/**
 * KV allows 1000 mutations, 100 checks, 800 KiB and 80 KiB of keys per atomic
 * op; an entry costs up to 4 mutations and under 1 KiB of keys (index parts
 * are capped), so a batch stays well inside with room for the change itself.
 */
const BATCH_MAX_ENTRIES = 64;
const BATCH_MAX_BYTES = 480 * 1024;
/** entries one audited change may append (its own mutations share the op) */
export const COMMIT_MAX_ENTRIES = 150;
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

interface CommitTask {
  kind: "commit";
  append: Append;
  ctx: CallContext;
  build: (op: Deno.AtomicOperation) => Promise<{ value: unknown; audit: AuditInput[] }>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

type Task = RecordTask | CommitTask;

interface AppendQueue {
  tasks: Task[];
  draining: boolean;
}

const queues = new WeakMap<Deno.Kv, AppendQueue>();

function queueFor(kv: Deno.Kv): AppendQueue {
  let q = queues.get(kv);
  if (!q) queues.set(kv, q = { tasks: [], draining: false });
  return q;
}

function isBusy(e: unknown): boolean {
  return e instanceof Error && /database is (locked|busy)/i.test(e.message);
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
        if (!isBusy(e) || attempt >= BUSY_ATTEMPTS) throw e;
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 10 * attempt));
      }
    }
  };
}

async function runCommit(task: CommitTask): Promise<void> {
  try {
    task.resolve(
      await task.append(async (op) => {
        const { value, audit } = await task.build(op);
        if (audit.length > COMMIT_MAX_ENTRIES) {
          throw new AppError(
            "internal",
            `an audited change may append at most ${COMMIT_MAX_ENTRIES} entries (got ${audit.length}); split it`,
          );
        }
        return { value, pending: audit.map((a) => pendingEntry(task.ctx, a)) };
      }),
    );
  } catch (e) {
    task.reject(e);
  }
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
        await runCommit(first);
        continue;
      }
      const batch: RecordTask[] = [first];
      let bytes = first.bytes;
      while (batch.length < BATCH_MAX_ENTRIES) {
        const next = queue.tasks[0];
        if (next?.kind !== "record" || bytes + next.bytes > BATCH_MAX_BYTES) break;
        batch.push(queue.tasks.shift() as RecordTask);
        bytes += next.bytes;
      }
      await runRecords(batch);
    }
  } finally {
    queue.draining = false;
  }
}

/** Queues an audited change; see `AuditService.commit`. */
export function enqueueCommit<T>(
  kv: Deno.Kv,
  append: Append,
  ctx: CallContext,
  build: (op: Deno.AtomicOperation) => Promise<{ value: T; audit: AuditInput[] }>,
): Promise<T> {
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  const queue = queueFor(kv);
  queue.tasks.push({
    kind: "commit",
    append,
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
