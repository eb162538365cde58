/**
 * Settlement read-ahead: what settling a refund reads (its record, its
 * transaction and sync state) is read while Stripe is being called, in one
 * consistent snapshot, instead of after Stripe answered.
 *
 * Each key read ahead answers ONE read, then KV is read as usual: a build run
 * again after a refused commit reads afresh. Every read served from here is
 * checked at commit by the build that makes it (the record by
 * `addUpdateRefund`, the transaction and its sync state by the event applier),
 * so a value that moved while Stripe was called fails the commit and is read
 * again; it is never acted on. A read of several keys is served only when all
 * of them were read ahead together (one snapshot), else it goes to KV.
 *
 * The record is handed to the settlement hook through Stripe's answer object
 * (`attach` / `readAheadOf`), since the hook is shared with webhooks and
 * reconciliation, which read it themselves.
 */
import { keys } from "../../kv/keys.ts";
import { getRefund } from "../../kv/refunds.ts";
import type { RefundRecord } from "../../domain/refund.ts";
import type { Transaction } from "../../domain/transaction.ts";

const keyOf = (k: Deno.KvKey) => JSON.stringify(k);

export class ReadAhead {
  readonly #rows = new Map<string, Promise<Deno.KvEntryMaybe<unknown>>>();
  /** keys already read once (from here or from KV): never answered from here after */
  readonly #asked = new Set<string>();

  constructor(kv: Deno.Kv, read: Deno.KvKey[]) {
    this.#read(kv, read);
  }

  #read(kv: Deno.Kv, read: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<unknown>[]> {
    const all = kv.getMany<unknown[]>(read);
    // A failed read ahead answers nothing: the reads go to KV. Each row's promise is marked
    // handled too, so one never taken (Stripe refused, the build read afresh) cannot end the
    // process as an unhandled rejection; a row taken still rejects to its taker.
    all.catch(() => {});
    read.forEach((k, i) => {
      const row = all.then((r) => r[i]);
      row.catch(() => {});
      this.#rows.set(keyOf(k), row);
    });
    return all;
  }

  /**
   * Once the first read has landed, reads ahead the keys `next` names from its
   * entries too (one more snapshot, all of them together). Until then, or if
   * it never lands, those reads go to KV; a key read before it lands is not
   * read ahead at all (it would answer a second read).
   */
  follow(kv: Deno.Kv, next: (first: Deno.KvEntryMaybe<unknown>[]) => Deno.KvKey[]): this {
    const first = [...this.#rows.values()];
    Promise.all(first).then((entries) => {
      const read = next(entries).filter((k) => {
        const key = keyOf(k);
        return !this.#rows.has(key) && !this.#asked.has(key);
      });
      if (read.length) this.#read(kv, read);
    }).catch(() => {});
    return this;
  }

  /** The entry read ahead for `key`, once; null when there is none (left). */
  take<T>(key: Deno.KvKey): Promise<Deno.KvEntryMaybe<T>> | null {
    const k = keyOf(key);
    const row = this.#rows.get(k);
    this.#rows.delete(k);
    this.#asked.add(k);
    return row as Promise<Deno.KvEntryMaybe<T>> | null ?? null;
  }

  /** `kv`, answering `get`/`getMany` from what was read ahead (each key once). */
  over(kv: Deno.Kv): Deno.Kv {
    const get = (key: Deno.KvKey) => this.take(key)?.catch(() => kv.get(key)) ?? kv.get(key);
    const getMany = (list: Deno.KvKey[]) => {
      if (list.length === 0 || !list.every((k) => this.#rows.has(keyOf(k)))) {
        for (const k of list) this.take(k);
        return kv.getMany(list);
      }
      return Promise.all(list.map((k) => this.take(k)!)).catch(() => kv.getMany(list));
    };
    return new Proxy(kv, {
      get(target, prop) {
        if (prop === "get") return get;
        if (prop === "getMany") return getMany;
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
  }
}

/**
 * What settling refund `refundId` of transaction `txnId` reads, read ahead now:
 * the record, the transaction and its sync state, then the entries that lead
 * Stripe's ids to the transaction (the applier finds it by the `pi_` and `ch_`
 * ids Stripe's answer names, which are the transaction's own).
 */
export function readAheadForSettle(kv: Deno.Kv, refundId: string, txnId: string): ReadAhead {
  return new ReadAhead(kv, [
    keys.refund(refundId),
    keys.transaction(txnId),
    keys.transactionSync(txnId),
  ]).follow(kv, ([, txn]) => {
    const t = txn.value as Transaction | null;
    const ids = [t?.stripe_payment_intent, t?.stripe_charge].filter((id): id is string => !!id);
    return ids.map((id) => keys.transactionByStripe(id));
  });
}

const attached = new WeakMap<object, ReadAhead>();

/** Hands `ahead` to whoever settles from `answer` (Stripe's refund object). */
export function attach(answer: object, ahead: ReadAhead): void {
  attached.set(answer, ahead);
}

export function readAheadOf(answer: object): ReadAhead | null {
  return attached.get(answer) ?? null;
}

/** Refund `id` as read ahead for settling `answer`, else from KV. */
export function readRefundFor(
  kv: Deno.Kv,
  answer: object,
  id: string,
): Promise<Deno.KvEntryMaybe<RefundRecord>> {
  return readAheadOf(answer)?.take<RefundRecord>(keys.refund(id))?.catch(() => getRefund(kv, id)) ??
    getRefund(kv, id);
}
