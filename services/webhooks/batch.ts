/**
 * Group commit for the webhook intake: concurrent deliveries (Stripe sends
 * many at once) share one KV commit instead of paying one each. While a commit
 * is in flight the next writes queue; when it lands they go out together.
 * A batch whose checks fail (a duplicate event id, a record changed by a
 * replay) is retried item by item, so each caller learns its own outcome.
 *
 * `add` may run more than once (batch, then alone): it must only add the same
 * checks and mutations to `op` each time.
 *
 * Why not the ingest group committer (kv/group_commit.ts): these writes are
 * decided before they are queued (they read nothing a batch could make
 * stale), and a write refused alone is an answer (the event id is already
 * taken), not a race to run again. So there is nothing to rebuild and no
 * overlap to track; what both share is the batch sizing (`BatchMeter`).
 */
import { BatchMeter } from "../../core/kv_limits.ts";

export interface BatchWrite {
  add(op: Deno.AtomicOperation): void;
  /** mutations + checks it adds, and roughly how many bytes, to keep a batch under `KV_BATCH` */
  mutations: number;
  bytes: number;
}

export type BatchResult = { ok: true; versionstamp: string } | { ok: false };

interface Pending {
  write: BatchWrite;
  resolve: (r: BatchResult) => void;
  reject: (e: unknown) => void;
}

const MAX_ITEMS = 40;

export class CommitBatcher {
  #queue: Pending[] = [];
  #flushing = false;
  readonly kv: Deno.Kv;

  constructor(kv: Deno.Kv) {
    this.kv = kv;
  }

  submit(write: BatchWrite): Promise<BatchResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ write, resolve, reject });
      if (!this.#flushing) this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length) {
        const batch = this.#take();
        await this.#commit(batch);
      }
    } finally {
      this.#flushing = false;
    }
  }

  #take(): Pending[] {
    const batch: Pending[] = [];
    const meter = new BatchMeter(MAX_ITEMS);
    while (this.#queue.length && meter.fits(this.#queue[0].write)) {
      meter.add(this.#queue[0].write);
      batch.push(this.#queue.shift()!);
    }
    return batch;
  }

  async #commit(batch: Pending[]): Promise<void> {
    if (batch.length > 1) {
      try {
        const op = this.kv.atomic();
        for (const p of batch) p.write.add(op);
        const res = await op.commit();
        if (res.ok) {
          for (const p of batch) p.resolve({ ok: true, versionstamp: res.versionstamp });
          return;
        }
      } catch {
        // fall through: alone, each write meets its own error
      }
    }
    await Promise.all(batch.map(async (p) => {
      try {
        const op = this.kv.atomic();
        p.write.add(op);
        const res = await op.commit();
        p.resolve(res.ok ? { ok: true, versionstamp: res.versionstamp } : { ok: false });
      } catch (error) {
        p.reject(error);
      }
    }));
  }
}
