/**
 * Group commit for the webhook intake: concurrent deliveries (Stripe sends
 * many at once) share one KV commit instead of paying one each. While a commit
 * is in flight the next writes queue; when it lands they go out together.
 * A batch whose checks fail (a duplicate event id, a record changed by a
 * replay) is retried item by item, so each caller learns its own outcome.
 *
 * `add` may run more than once (batch, then alone): it must only add the same
 * checks and mutations to `op` each time.
 */

export interface BatchWrite {
  add(op: Deno.AtomicOperation): void;
  /** mutations + checks it adds, and roughly how many bytes, to keep a batch under KV's limits */
  mutations: number;
  bytes: number;
}

export type BatchResult = { ok: true; versionstamp: string } | { ok: false };

interface Pending {
  write: BatchWrite;
  resolve: (r: BatchResult) => void;
  reject: (e: unknown) => void;
}

// KV: 1000 mutations, 100 checks, 800 KiB per atomic op; stay well inside.
const MAX_ITEMS = 40;
const MAX_MUTATIONS = 600;
const MAX_BYTES = 400 * 1024;

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
    let mutations = 0, bytes = 0;
    while (this.#queue.length && batch.length < MAX_ITEMS) {
      const next = this.#queue[0].write;
      const fits = mutations + next.mutations <= MAX_MUTATIONS && bytes + next.bytes <= MAX_BYTES;
      if (batch.length && !fits) break;
      batch.push(this.#queue.shift()!);
      mutations += next.mutations;
      bytes += next.bytes;
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
