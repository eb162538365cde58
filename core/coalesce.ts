/**
 * Read coalescing: concurrent identical reads share one in flight, but a
 * caller only ever joins a read that STARTS after it arrived. So every answer
 * is at least as fresh as a read of the caller's own would have been (a
 * write committed before the caller arrived is always seen): this is not a
 * cache, nothing is kept once a read ends.
 *
 * Per key, at most one read runs and at most one waits. A caller arriving
 * while none runs starts one; while one runs (it began before the caller
 * arrived, so the caller may not take its answer) the caller joins the
 * waiting read, which starts as soon as the running one ends, with every
 * caller that joined it. A failed read fails all its callers, and the next
 * waiting read still starts.
 *
 * The key must name everything the read depends on: callers of one key get
 * the same answer (the same object; treat it as read-only).
 */

interface Waiting<V> {
  promise: Promise<V>;
  resolve: (value: V) => void;
  reject: (error: unknown) => void;
  load: () => Promise<V>;
}

interface Flight<V> {
  running: boolean;
  waiting: Waiting<V> | null;
}

export interface Coalescer<V> {
  /** `load()`'s answer for `key`, from a read that starts now or later. */
  read(key: string, load: () => Promise<V>): Promise<V>;
  /** keys with a read running (tests) */
  readonly size: number;
}

export function createCoalescer<V>(): Coalescer<V> {
  const flights = new Map<string, Flight<V>>();

  function start(key: string, f: Flight<V>, load: () => Promise<V>): Promise<V> {
    f.running = true;
    let p: Promise<V>;
    try {
      p = load(); // issued now: the read begins after every caller of it arrived
    } catch (error) {
      p = Promise.reject(error);
    }
    const next = () => {
      const w = f.waiting;
      f.waiting = null;
      f.running = false;
      if (w) start(key, f, w.load).then(w.resolve, w.reject);
      else flights.delete(key);
    };
    p.then(next, next);
    return p;
  }

  return {
    read(key, load) {
      let f = flights.get(key);
      if (!f) flights.set(key, f = { running: false, waiting: null });
      if (!f.running) return start(key, f, load);
      if (!f.waiting) {
        let resolve!: (value: V) => void, reject!: (error: unknown) => void;
        const promise = new Promise<V>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        f.waiting = { promise, resolve, reject, load };
      }
      return f.waiting.promise;
    },
    get size() {
      return flights.size;
    },
  };
}
