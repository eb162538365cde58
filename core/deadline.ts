/**
 * Bounded waits: a promise raced against a timer that is always cleared, so a
 * wait that ends early leaves nothing scheduled behind it.
 */

/** Thrown by `within` when `promise` has not settled after `ms`. */
export class DeadlineExceeded extends Error {
  override name = "DeadlineExceeded";
  constructor(readonly what: string, readonly ms: number) {
    super(`${what}: no answer within ${ms} ms`);
  }
}

/**
 * `promise`'s value or error, or `DeadlineExceeded` after `ms`. A promise that
 * settles later has its rejection handled (never an unhandled rejection).
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  promise.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(what, ms)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits for `promise` up to `ms`: `"done"` once it fulfilled, `"cut"` when the time ran out
 * first (a later rejection is handled); its own rejection is thrown.
 */
export async function settleWithin(
  promise: Promise<unknown> | null | undefined,
  ms: number,
): Promise<"done" | "cut"> {
  if (!promise) return "done";
  promise.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"cut">((r) => timer = setTimeout(() => r("cut"), Math.max(0, ms)));
  try {
    return await Promise.race([promise.then(() => "done" as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One step of a stop, waited for up to `ms`: a step cut short, or failed, is named through
 * `warn` and the caller goes on (main.ts's shutdown; README, "Quick start").
 */
export async function finishWithin(
  what: string,
  step: () => Promise<unknown> | null | undefined,
  ms: number,
  warn: (msg: string, fields: Record<string, unknown>) => void,
): Promise<void> {
  try {
    if (await settleWithin(step(), ms) === "cut") {
      warn(`stopping without waiting longer for ${what}`, { waited_ms: Math.round(ms) });
    }
  } catch (error) {
    warn(`stopping: ${what} failed`, { error });
  }
}
