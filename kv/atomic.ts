/**
 * The one way to write a checked change: read, `check()` the versionstamps
 * read, write, commit; on a lost race run the whole thing again, a bounded
 * number of times. A race lost every time becomes 409 `conflict`, never a
 * silent overwrite.
 */
import { AppError } from "../core/errors.ts";

export interface CommitOptions {
  /** attempts before giving up with `conflict` (default 8) */
  attempts?: number;
  /** what is being changed, for the conflict message */
  what?: string;
  /** how long a commit refused as "database is locked" is tried again (default 5 s) */
  lockWaitMs?: number;
}

/**
 * Whether `e` is SQLite saying another connection holds the write lock of a
 * local KV file (the server's second handle deleting expired keys, the admin
 * CLI, the doctor). A commit refused so wrote nothing.
 */
export function isKvLocked(e: unknown): boolean {
  // the error itself or what it wraps (a KvOpenError, an AppError with a cause)
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 5; depth++) {
    if (/database (table )?is (locked|busy)|SQLITE_BUSY/i.test(c.message)) return true;
    c = c.cause;
  }
  return false;
}

/**
 * Runs `fn` again while SQLite says another process holds the KV file's lock
 * (the server, when a CLI runs beside it), for up to `budgetMs` with growing
 * pauses; then throws `giveUp(error)`, which says what to do. Any other error
 * is thrown as is.
 */
export async function whileLocked<T>(
  fn: () => Promise<T>,
  budgetMs: number,
  giveUp: (error: unknown) => Error,
): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let delay = 20;; delay = Math.min(delay * 2, 500)) {
    try {
      return await fn();
    } catch (error) {
      if (!isKvLocked(error)) throw error;
      if (Date.now() + delay > deadline) throw giveUp(error);
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random() / 2)));
    }
  }
}

/**
 * `build` reads what it needs, adds checks and mutations to `op`, and returns
 * a result. It runs again from scratch after a lost race, so it must not have
 * side effects outside `op`. Throwing aborts without writing anything.
 */
export async function commitChecked<T>(
  kv: Deno.Kv,
  build: (op: Deno.AtomicOperation, attempt: number) => Promise<T>,
  options: CommitOptions = {},
): Promise<{ value: T; versionstamp: string }> {
  const attempts = options.attempts ?? 8;
  // SQLite refuses a checked commit (it read before writing) at once while another
  // connection holds the write lock, with no busy wait: wait here as SQLite would
  // for an unchecked one, then build it again from fresh reads.
  const lockDeadline = Date.now() + (options.lockWaitMs ?? 5_000);
  for (let attempt = 0, locked = 0; attempt < attempts;) {
    const op = kv.atomic();
    const value = await build(op, attempt);
    let res: Deno.KvCommitResult | Deno.KvCommitError;
    try {
      res = await op.commit();
    } catch (e) {
      const wait = Math.min(100, 5 * 2 ** locked++) * (0.5 + Math.random() / 2);
      if (!isKvLocked(e) || Date.now() + wait > lockDeadline) throw e;
      await new Promise((r) => setTimeout(r, wait));
      continue;
    }
    if (res.ok) return { value, versionstamp: res.versionstamp };
    // Lost a race: back off a little, with jitter, so contenders spread out.
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
    attempt++;
  }
  throw new AppError(
    "conflict",
    `${
      options.what ?? "the record"
    } was changed by another request at the same time; reload and try again`,
  );
}

/** `kv.getMany` takes at most 10 keys; this takes any number, in order. */
export async function getManyChunked<T>(
  kv: Deno.Kv,
  keys: Deno.KvKey[],
): Promise<Deno.KvEntryMaybe<T>[]> {
  const out: Deno.KvEntryMaybe<T>[] = [];
  for (let i = 0; i < keys.length; i += 10) {
    out.push(...await kv.getMany<T[]>(keys.slice(i, i + 10)));
  }
  return out;
}

/** What `watchedAtomic` tells: each check, set and delete as it is added, and the commit's result. */
export interface AtomicWatcher {
  check?(check: Deno.AtomicCheck): void;
  set?(key: Deno.KvKey, value: unknown): void;
  delete?(key: Deno.KvKey): void;
  committed?(result: Deno.KvCommitResult | Deno.KvCommitError): void;
}

/**
 * `op`, telling `watcher` what is added to it and how its commit went; every
 * other call passes through, and chained calls stay on the watched op.
 */
export function watchedAtomic(
  op: Deno.AtomicOperation,
  watcher: AtomicWatcher,
): Deno.AtomicOperation {
  const watched: Deno.AtomicOperation = new Proxy(op, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === "check") { for (const c of args as Deno.AtomicCheck[]) watcher.check?.(c); }
        if (prop === "set") watcher.set?.(args[0] as Deno.KvKey, args[1]);
        if (prop === "delete") watcher.delete?.(args[0] as Deno.KvKey);
        const out = value.apply(target, args);
        if (prop === "commit" && watcher.committed) {
          return (out as Promise<Deno.KvCommitResult | Deno.KvCommitError>).then((r) => {
            watcher.committed!(r);
            return r;
          });
        }
        return out === target ? watched : out;
      };
    },
  });
  return watched;
}
