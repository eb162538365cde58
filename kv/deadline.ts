/**
 * A remote store (a KV Connect URL, or Deno Deploy's KV) that stops answering
 * leaves its operations waiting: Deno's client tries again for as long as it
 * takes. Wrapped here, every operation (a read, a commit, each page of a list)
 * that has no answer within `KV_DEADLINE_MS` fails with `503 unavailable` and
 * `Retry-After`, so a request is answered and what holds a lock lets go
 * (README, "Quick start": when the store stops answering). A local file or
 * `:memory:` answers or fails on its own and is not wrapped (main.ts).
 */
import { AppError } from "../core/errors.ts";
import { DeadlineExceeded, within } from "../core/deadline.ts";

/**
 * How long `/readyz` (services/health.ts) and a scrape's KV-read gauges (services/metrics.ts)
 * wait for the store before calling it not answering, ms.
 */
export const KV_PROBE_MS = 2_000;

/**
 * How long one KV operation may take, ms. Longer than `KV_PROBE_MS`, so a load balancer
 * polling `/readyz` takes the server out of rotation before its requests start failing.
 */
export const KV_DEADLINE_MS = 5_000;

/** Seconds a caller is told to wait (`Retry-After`) before trying again. */
const RETRY_AFTER_S = 5;

/** The error an operation past its deadline fails with. */
export function kvUnavailable(ms: number, cause?: unknown): AppError {
  return new AppError(
    "unavailable",
    `the store (KV) did not answer within ${ms / 1000} s, so this could not be done now; ` +
      "try again in a moment. A change already sent to the store may still land once it " +
      "answers: read before acting again, or send the same request with the same " +
      "Idempotency-Key",
    { retryAfter: RETRY_AFTER_S, cause },
  );
}

/** Whether `error` says the store did not answer in time (from `withKvDeadline`). */
export function isKvUnavailable(error: unknown): boolean {
  return error instanceof AppError && error.code === "unavailable" &&
    error.cause instanceof DeadlineExceeded;
}

function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return within(promise, ms, what).catch((error) => {
    throw error instanceof DeadlineExceeded ? kvUnavailable(ms, error) : error;
  });
}

/** The methods of an atomic operation that add to it and return it (chained). */
const BUILDERS = new Set(["check", "mutate", "sum", "min", "max", "set", "delete", "enqueue"]);

function boundedAtomic(op: Deno.AtomicOperation, ms: number): Deno.AtomicOperation {
  const commit = op.commit.bind(op);
  const boundedCommit = () => bounded(commit(), ms, "kv commit");
  // a `commit` set on the wrapper (one that wraps it in turn, as a test counting commits does)
  // is kept on the wrapper: set on the operation, it would call itself through the wrapper
  let ownCommit: unknown;
  const wrapped: Deno.AtomicOperation = new Proxy(op, {
    set(target, prop, value) {
      if (prop !== "commit") return Reflect.set(target, prop, value, target);
      ownCommit = value;
      return true;
    },
    get(target, prop) {
      if (prop === "commit") return ownCommit ?? boundedCommit;
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (typeof prop === "string" && BUILDERS.has(prop)) {
        return (...args: unknown[]) => {
          value.apply(target, args);
          return wrapped;
        };
      }
      return value.bind(target);
    },
  });
  return wrapped;
}

function boundedList<T>(iter: Deno.KvListIterator<T>, ms: number): Deno.KvListIterator<T> {
  const wrapped: Deno.KvListIterator<T> = new Proxy(iter, {
    get(target, prop) {
      if (prop === "next") return () => bounded(target.next(), ms, "kv list");
      if (prop === Symbol.asyncIterator) return () => wrapped;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return wrapped;
}

/** Reads and writes of `kv`, each bounded by `ms` (see above); `close` and the rest as they are. */
export function withKvDeadline(kv: Deno.Kv, ms = KV_DEADLINE_MS): Deno.Kv {
  // a method set on the wrapper (one wrapping it in turn) is kept on the wrapper, as for commit
  const own = new Map<PropertyKey, unknown>();
  return new Proxy(kv, {
    set(_target, prop, value) {
      own.set(prop, value);
      return true;
    },
    get(target, prop) {
      if (own.has(prop)) return own.get(prop);
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      switch (prop) {
        case "get":
        case "getMany":
        case "set":
        case "delete":
        case "enqueue":
          return (...args: unknown[]) =>
            bounded(value.apply(target, args) as Promise<unknown>, ms, `kv ${prop}`);
        case "atomic":
          return () => boundedAtomic(target.atomic(), ms);
        case "list":
          return (...args: unknown[]) =>
            boundedList(value.apply(target, args) as Deno.KvListIterator<unknown>, ms);
        default:
          return value.bind(target);
      }
    },
  });
}
