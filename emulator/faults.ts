import { newId } from "./ids.ts";

export type FaultKind =
  | "latency"
  | "server_error"
  | "rate_limit"
  | "lock_timeout"
  | "act_then_drop";

export interface FaultSpec {
  method?: string;
  /** Exact pathname (`/v1/refunds`) or a RegExp tested against it. */
  path?: string | RegExp;
  /** How many matching requests it affects (default 1; Infinity for "until cleared"). */
  times?: number;
  kind: FaultKind;
  /**
   * For `latency`: how long to hold the answer (default 1000); `Infinity` holds it until
   * the handle's `release()`, so a test orders the held answer by what happened, not by time.
   */
  ms?: number;
  /**
   * For `latency`, in-process only: hold the answer until this settles instead (or until
   * `release()`), so a test decides when the request ends rather than racing a timer.
   */
  until?: Promise<unknown>;
}

export interface FaultHandle {
  readonly id: string;
  /** Matching requests still to be affected. */
  remaining(): number;
  remove(): void;
  /**
   * Latency: the answers it holds go on now; resolves once the emulator has acted on every
   * request it held (its objects, events and idempotency record are in place).
   */
  release(): Promise<void>;
}

/** What a latency fault does to one request: wait, then say when the request is answered. */
export interface Hold {
  ms: number;
  released: Promise<void>;
  answered(): void;
}

interface ActiveFault extends FaultSpec {
  id: string;
  left: number;
  released: PromiseWithResolvers<void>;
  /** one per request it held, resolved when that request is answered */
  answers: Promise<void>[];
}

/** Scripted misbehaviour for /v1 requests, consumed in the order faults were injected. */
export class FaultInjector {
  #faults: ActiveFault[] = [];
  /** latency faults that held a request, until released */
  #holding = new Set<ActiveFault>();

  inject(spec: FaultSpec): FaultHandle {
    const fault: ActiveFault = {
      ...spec,
      id: newId("fault"),
      left: spec.times ?? 1,
      released: Promise.withResolvers(),
      answers: [],
    };
    this.#faults.push(fault);
    return {
      id: fault.id,
      remaining: () => fault.left,
      remove: () => {
        this.#faults = this.#faults.filter((f) => f !== fault);
      },
      release: () => {
        this.#holding.delete(fault);
        fault.released.resolve();
        return Promise.all(fault.answers).then(() => {});
      },
    };
  }

  /**
   * Every held answer goes on, and a latency still to apply holds no longer than its time
   * (the emulator is closing: its server waits for the requests it is answering).
   */
  releaseAll(): void {
    for (const f of [...this.#holding, ...this.#faults]) f.released.resolve();
    this.#holding.clear();
  }

  clear(): void {
    this.#faults = [];
  }

  /**
   * Consumes one fault of `kind` when it is the first failure that applies
   * (a latency is left for the request, should it go on).
   */
  takeFailure(method: string, path: string, kind: FaultKind): boolean {
    const f = this.#faults.find((f) => f.kind !== "latency" && matches(f, method, path));
    if (f?.kind !== kind) return false;
    if (--f.left <= 0) this.#faults = this.#faults.filter((x) => x !== f);
    return true;
  }

  /** Consumes the faults that apply: at most one latency and at most one failure kind. */
  take(method: string, path: string): { hold?: Hold; failure?: FaultKind } {
    let hold: Hold | undefined;
    let failure: FaultKind | undefined;
    for (const f of this.#faults) {
      if (!matches(f, method, path)) continue;
      if (f.kind === "latency") {
        if (hold) continue;
        const answered = Promise.withResolvers<void>();
        f.answers.push(answered.promise);
        this.#holding.add(f);
        // `until` settling, `release()` or closing ends the hold, whichever comes first
        const released = f.until
          ? Promise.race([f.until.then(() => {}, () => {}), f.released.promise])
          : f.released.promise;
        hold = {
          ms: f.until ? Infinity : f.ms ?? 1000,
          released,
          answered: answered.resolve,
        };
      } else {
        if (failure) continue;
        failure = f.kind;
      }
      f.left--;
    }
    this.#faults = this.#faults.filter((f) => f.left > 0);
    return { hold, failure };
  }
}

/** Waits out `hold`: its time, or until released, whichever comes first. */
export async function waitOut(hold: Hold): Promise<void> {
  if (!Number.isFinite(hold.ms)) return await hold.released;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    new Promise<void>((r) => timer = setTimeout(r, hold.ms)),
    hold.released,
  ]);
  clearTimeout(timer);
}

function matches(f: FaultSpec, method: string, path: string): boolean {
  if (f.method && f.method.toUpperCase() !== method) return false;
  if (f.path === undefined) return true;
  return typeof f.path === "string" ? f.path === path : f.path.test(path);
}

/** Timestamps (wall clock ms) of every /v1 request, for rate-budget assertions. */
export class RequestCounter {
  #times: number[] = [];

  record(at: number = Date.now()): void {
    this.#times.push(at);
  }

  total(): number {
    return this.#times.length;
  }

  timestamps(): number[] {
    return [...this.#times];
  }

  /** Most requests seen in any window of `ms` milliseconds. */
  maxInWindow(ms: number): number {
    const t = [...this.#times].sort((a, b) => a - b);
    let best = 0;
    for (let lo = 0, hi = 0; hi < t.length; hi++) {
      while (t[hi] - t[lo] >= ms) lo++;
      best = Math.max(best, hi - lo + 1);
    }
    return best;
  }

  reset(): void {
    this.#times = [];
  }
}
