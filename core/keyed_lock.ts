/** The per-customer lock of the Stripe event applier (services/ingest/applier.ts). */

/** The work cannot be done the quick way (`plainOnly`, or a Stripe read-back): nothing was written. */
export class Deferred extends Error {}

export function defer(reason: string): never {
  throw new Deferred(reason);
}

/**
 * Serializes work per key in this isolate, so one customer's events do not
 * fight over its balance. Intake work never queues behind work that may wait
 * on Stripe or the audit chain: it is deferred instead.
 */
export function createKeyedLock() {
  const tails = new Map<string, Promise<void>>();
  const slow = new Map<string, number>();
  return async function run<T>(key: string, fn: () => Promise<T>, atIntake = false): Promise<T> {
    if (atIntake && slow.has(key)) defer(`${key} is busy with work that waits on more than KV`);
    if (!atIntake) slow.set(key, (slow.get(key) ?? 0) + 1);
    const prev = tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => release = r);
    const tail = prev.then(() => mine);
    tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (tails.get(key) === tail) tails.delete(key);
      if (!atIntake) {
        const n = slow.get(key)! - 1;
        if (n) slow.set(key, n);
        else slow.delete(key);
      }
    }
  };
}
