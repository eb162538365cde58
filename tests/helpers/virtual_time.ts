/**
 * Simulated time for concurrent code that sleeps: a `ManualClock` plus a
 * `sleep` that parks the caller on a virtual timer. Time only moves when every
 * running task is parked, and then straight to the earliest timer, so a run is
 * deterministic however long the simulated waits are, and a task that is not
 * sleeping always sees the clock it read a moment ago.
 */
import { ManualClock } from "../../core/clock.ts";

interface Timer {
  due: number;
  seq: number;
  wake: () => void;
}

export class VirtualTime {
  readonly clock: ManualClock;
  #timers: Timer[] = [];
  #running = 0;
  #seq = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.clock = new ManualClock(start);
  }

  /** Pass this as the code's `sleep`. */
  sleep = (ms: number): Promise<void> =>
    new Promise<void>((wake) => {
      this.#timers.push({ due: this.clock.now() + Math.max(0, ms), seq: this.#seq++, wake });
      this.#advanceIfIdle();
    });

  /** Runs the tasks concurrently in simulated time; resolves when all are done. */
  async run(tasks: Array<() => Promise<void>>): Promise<void> {
    this.#running += tasks.length;
    await Promise.all(tasks.map(async (task) => {
      try {
        await task();
      } finally {
        this.#running--;
        this.#advanceIfIdle();
      }
    }));
  }

  #advanceIfIdle(): void {
    if (this.#running === 0 || this.#timers.length < this.#running) return;
    this.#timers.sort((a, b) => a.due - b.due || a.seq - b.seq);
    const due = this.#timers[0].due;
    if (due > this.clock.now()) this.clock.set(due);
    const ready = this.#timers.filter((t) => t.due <= due);
    this.#timers = this.#timers.filter((t) => t.due > due);
    for (const t of ready) t.wake();
  }
}

/** A small seeded PRNG (mulberry32), so jitter is reproducible inside a property run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
