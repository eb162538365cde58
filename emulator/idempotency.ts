import type { Params } from "./form.ts";
import type { IdempotentRecord, Store } from "./store.ts";

const RETENTION_MS = 24 * 3600 * 1000;

export type IdempotencyCheck =
  | { kind: "new" }
  | { kind: "replay"; record: IdempotentRecord }
  | { kind: "mismatch" }
  | { kind: "in_flight" };

/** Canonical form of a request, so a replay must match method, path and every parameter. */
export function requestFingerprint(method: string, path: string, params: Params): string {
  return JSON.stringify([method, path, canonical(params)]);
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    return Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]);
  }
  return v;
}

/** Stripe's idempotency layer: results kept 24 h, a concurrent duplicate is refused. */
export class Idempotency {
  #inFlight = new Set<string>();
  #saves = 0;

  constructor(private store: Store, private now: () => number) {}

  check(key: string, fingerprint: string): IdempotencyCheck {
    if (this.#inFlight.has(key)) return { kind: "in_flight" };
    const record = this.store.idempotency.get(key);
    if (!record) return { kind: "new" };
    if (this.now() - record.createdMs > RETENTION_MS) {
      this.store.idempotency.delete(key);
      return { kind: "new" };
    }
    return record.fingerprint === fingerprint ? { kind: "replay", record } : { kind: "mismatch" };
  }

  begin(key: string): void {
    this.#inFlight.add(key);
  }

  end(key: string): void {
    this.#inFlight.delete(key);
  }

  save(record: Omit<IdempotentRecord, "createdMs">): void {
    this.store.idempotency.set(record.key, { ...record, createdMs: this.now() });
    // The SDK keys every POST, so expired records are swept now and then to bound memory.
    if (++this.#saves % 1000 === 0) this.#prune();
  }

  #prune(): void {
    const cutoff = this.now() - RETENTION_MS;
    for (const [key, rec] of this.store.idempotency) {
      if (rec.createdMs < cutoff) this.store.idempotency.delete(key);
    }
  }
}
