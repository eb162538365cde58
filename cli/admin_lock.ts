/**
 * The admin CLI and a server on the same KV file (README, "Break-glass"): a
 * command retries while SQLite says another process holds the lock, and the
 * whole command has a deadline, so it ends with a message instead of waiting.
 */
import { isKvConnectUrl } from "../kv/open.ts";
import { whileLocked } from "../kv/atomic.ts";

export class KvLockedError extends Error {}

/** Runs `fn` again while SQLite says another process holds the lock, for up to `budgetMs`. */
export function retryWhileLocked<T>(fn: () => Promise<T>, budgetMs = 5_000): Promise<T> {
  return whileLocked(fn, budgetMs, (error) =>
    new KvLockedError(
      `the KV database stayed locked by another process for ${budgetMs / 1000} s; try again`,
      { cause: error },
    ));
}

/**
 * Deno KV's SQLite waits up to 5 s for a commit that read nothing first while
 * another process holds the write lock, and the store's handle sends a checked
 * commit refused as "database is locked" again for as long (kv/open.ts); a
 * server holding the file longer still must not hang the command, so the whole
 * command also has a deadline.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, kvPath: string | undefined) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() =>
      reject(
        new KvLockedError(
          isKvConnectUrl(kvPath)
            ? `the KV Connect server at ${kvPath} did not answer within ${ms / 1000} s; ` +
              "check that the denokv server runs and answers, then try again"
            : `the KV database (${kvPath ?? "platform default"}) did not answer within ${
              ms / 1000
            } s: another process holds its lock; try again`,
        ),
      ), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
