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
  /** For `latency`: how long to hold the answer. */
  ms?: number;
  /**
   * For `latency`, in-process only: hold the answer until this settles instead, so a
   * test decides when the request ends rather than racing a timer.
   */
  until?: Promise<unknown>;
}

export interface FaultHandle {
  readonly id: string;
  /** Matching requests still to be affected. */
  remaining(): number;
  remove(): void;
}

interface ActiveFault extends FaultSpec {
  id: string;
  left: number;
}

/** Scripted misbehaviour for /v1 requests, consumed in the order faults were injected. */
export class FaultInjector {
  #faults: ActiveFault[] = [];

  inject(spec: FaultSpec): FaultHandle {
    const fault: ActiveFault = { ...spec, id: newId("fault"), left: spec.times ?? 1 };
    this.#faults.push(fault);
    return {
      id: fault.id,
      remaining: () => fault.left,
      remove: () => {
        this.#faults = this.#faults.filter((f) => f !== fault);
      },
    };
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
  take(
    method: string,
    path: string,
  ): { latencyMs: number; until?: Promise<unknown>; failure?: FaultKind } {
    let latencyMs = 0;
    let until: Promise<unknown> | undefined;
    let failure: FaultKind | undefined;
    for (const f of this.#faults) {
      if (!matches(f, method, path)) continue;
      if (f.kind === "latency") {
        if (latencyMs || until) continue;
        if (f.until) until = f.until;
        else latencyMs = f.ms ?? 1000;
      } else {
        if (failure) continue;
        failure = f.kind;
      }
      f.left--;
    }
    this.#faults = this.#faults.filter((f) => f.left > 0);
    return { latencyMs, until, failure };
  }
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
