/**
 * One chain walk at a time in this process (README, "Audit checkpoints":
 * bursts of checks). A verify from the chain's start reads and hashes every
 * entry (seconds on a long log); run side by side, a burst of them slowed
 * every other request. So:
 *
 *   - a verify asked for while the same one (same `full`, same kept
 *     checkpoint) is running or waiting shares that walk's answer;
 *   - another one waits for the walk in progress, at most `waitMs`; past
 *     that it is refused `503 verify_busy` with `Retry-After`, nothing done.
 *
 * Each walk is logged: `audit verify walk started` (debug) and
 * `audit verify walk done` (info, with its time and how many requests it
 * answered).
 */
import type { Deps } from "../deps.ts";
import { AppError } from "../../core/errors.ts";
import type { VerifyResult } from "./verify.ts";
import type { VerifyOptions } from "./verify_chain.ts";

/** How long a verify waits for the walk in progress before `verify_busy` (README). */
export const VERIFY_WAIT_MS = 5_000;

/** What `Retry-After` says on `verify_busy`, in seconds. */
export const VERIFY_RETRY_AFTER_S = 5;

export interface VerifyGateOptions {
  /** how long a verify waits for the walk in progress (default VERIFY_WAIT_MS) */
  waitMs?: number;
}

/** The same verify: what it walks and what it compares. */
function keyOf(options: VerifyOptions): string {
  const { full = false, expect } = options;
  return JSON.stringify([full, expect?.seq ?? null, expect?.hash.toLowerCase() ?? null]);
}

/** A slot one walk holds at a time, handed to the next waiter in order. */
class Slot {
  #held = false;
  #waiters: Array<() => void> = [];

  /** true once held; false when `waitMs` passed first (the waiter then leaves the queue) */
  acquire(waitMs: number): Promise<boolean> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        resolve(false);
      }, waitMs);
      this.#waiters.push(wake);
    });
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next(); // handed over: still held
    else this.#held = false;
  }
}

/** A verify waiting to start: the requests it will answer. */
interface Waiting {
  answer: Promise<VerifyResult>;
  asked: number;
}

export type Verify = (options: VerifyOptions) => Promise<VerifyResult>;

/** `verify` bounded to one walk at a time, identical requests sharing one. */
export function gateVerify(deps: Deps, verify: Verify, gate: VerifyGateOptions = {}): Verify {
  const waitMs = gate.waitMs ?? VERIFY_WAIT_MS;
  const slot = new Slot();
  const pending = new Map<string, Waiting>();

  async function run(options: VerifyOptions, key: string, waiting: Waiting) {
    try {
      if (!await slot.acquire(waitMs)) {
        throw new AppError(
          "verify_busy",
          "another audit-log verify is walking the chain in this service; nothing was " +
            `checked: send the request again in ${VERIFY_RETRY_AFTER_S} s`,
          { retryAfter: VERIFY_RETRY_AFTER_S },
        );
      }
    } finally {
      // started (or refused): an identical request from now on waits for a walk of its own
      if (pending.get(key) === waiting) pending.delete(key);
    }
    const fields = { full: options.full ?? false, expect_seq: options.expect?.seq ?? null };
    const started = performance.now();
    try {
      deps.log.debug("audit verify walk started", fields);
      const result = await verify(options);
      deps.log.info("audit verify walk done", {
        ...fields,
        ok: result.ok,
        entries: result.entries,
        ms: Math.round(performance.now() - started),
        requests: waiting.asked,
      });
      return result;
    } finally {
      slot.release();
    }
  }

  return (options) => {
    const key = keyOf(options);
    const same = pending.get(key);
    if (same) {
      same.asked++;
      return same.answer;
    }
    const waiting = { asked: 1 } as Waiting;
    pending.set(key, waiting);
    waiting.answer = run(options, key, waiting);
    return waiting.answer;
  };
}
