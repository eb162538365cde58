/**
 * Group commit for the webhook intake: concurrent deliveries (Stripe sends
 * many at once) share one KV commit instead of paying one each. While a commit
 * is in flight the next writes queue; when it lands they go out together.
 * A batch whose checks fail (a duplicate event id, a record changed by a
 * replay) is retried item by item, so each caller learns its own outcome.
 *
 * `add` runs more than once (recorded when submitted, then in the batch, then
 * perhaps alone): it must only add the same checks and mutations each time.
 *
 * Two writes that check one key never share a commit: each check is met
 * against the state before the commit, so two deliveries of one event id
 * would both pass `versionstamp: null` and both be stored (README, "Stripe
 * webhooks": "stored once per `event.id`"). The keys a write checks are
 * read off a recording of its `add` when it is submitted; a write checking a
 * key already in the forming batch waits for the next one, where its check
 * meets what the first wrote (a redelivery is then refused, and answered a
 * duplicate).
 *
 * Why not the ingest group committer (kv/group_commit.ts): these writes are
 * decided before they are queued (they read nothing a batch could make
 * stale), and a write refused alone is an answer (the event id is already
 * taken), not a race to run again. So there is nothing to rebuild; what both
 * share is the batch sizing (`BatchMeter`) and keeping overlapping checks
 * apart.
 */
import { BatchMeter } from "../../core/kv_limits.ts";
import { recordingOp } from "../../kv/group_commit.ts";

export interface BatchWrite {
  add(op: Deno.AtomicOperation): void;
  /** mutations + checks it adds, and roughly how many bytes, to keep a batch under `KV_BATCH` */
  mutations: number;
  bytes: number;
}

export type BatchResult = { ok: true; versionstamp: string } | { ok: false };

interface Pending {
  write: BatchWrite;
  /** the keys its `add` checks, as JSON */
  checked: string[];
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
      const rec = recordingOp();
      write.add(rec.op);
      this.#queue.push({ write, checked: rec.checkedKeys(), resolve, reject });
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

  /**
   * The next batch, in arrival order, up to the first write that does not fit;
   * a write checking a key already in the batch stays queued (for the next).
   */
  #take(): Pending[] {
    const batch: Pending[] = [];
    const waiting: Pending[] = [];
    const checked = new Set<string>();
    const meter = new BatchMeter(MAX_ITEMS);
    while (this.#queue.length) {
      const next = this.#queue[0];
      if (next.checked.some((k) => checked.has(k))) {
        waiting.push(this.#queue.shift()!);
        continue;
      }
      if (!meter.fits(next.write)) break;
      meter.add(next.write);
      for (const k of next.checked) checked.add(k);
      batch.push(this.#queue.shift()!);
    }
    this.#queue.unshift(...waiting);
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
