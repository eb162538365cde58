/**
 * What the webhook intake's own KV writes cost with no service code around
 * them. The commits the intake makes for the benchmark's events are recorded
 * (keys, values and deletions, in the groups the app formed) on a scratch KV;
 * then they are committed again on a fresh KV by `KV_COMMIT_CONCURRENCY`
 * writers, with nothing else running: no HTTP, no signature check, no reads,
 * no checks. Events/s of that replay is the ceiling the intake could reach if
 * all its other work were free, so `webhook_write_set_ratio` next to
 * `webhook_ratio` says how much of the gap is the write set itself.
 */
import { KV_COMMIT_CONCURRENCY } from "./baseline_kv.ts";
import { withTempKv } from "./support.ts";
import { watchedAtomic } from "../../kv/atomic.ts";

export type Mutation = { key: Deno.KvKey; value: unknown } | { key: Deno.KvKey; delete: true };

export interface WriteSetRecorder {
  /** the KV to build the app on: a pass-through that writes down every landed commit */
  kv: Deno.Kv;
  commits: Mutation[][];
}

/** Wraps `kv` so each successful atomic commit's sets and deletes are kept, in order. */
export function recordWriteSet(kv: Deno.Kv): WriteSetRecorder {
  const commits: Mutation[][] = [];
  const wrapped = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") return () => recordingAtomic(target.atomic(), commits);
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: wrapped, commits };
}

function recordingAtomic(op: Deno.AtomicOperation, commits: Mutation[][]): Deno.AtomicOperation {
  const mutations: Mutation[] = [];
  return watchedAtomic(op, {
    set: (key, value) => mutations.push({ key, value: structuredClone(value) }),
    delete: (key) => mutations.push({ key, delete: true }),
    committed: (res) => {
      if (res.ok && mutations.length) commits.push(mutations);
    },
  });
}

/** Commits `commits` again on a fresh temp KV, as fast as KV takes them; seconds taken. */
export function replayWriteSet(commits: Mutation[][]): Promise<number> {
  return withTempKv(async (kv) => {
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: KV_COMMIT_CONCURRENCY }, async () => {
      while (next < commits.length) {
        const op = kv.atomic();
        for (const m of commits[next++]) {
          if ("delete" in m) op.delete(m.key);
          else op.set(m.key, m.value);
        }
        const res = await op.commit();
        if (!res.ok) throw new Error("a replayed commit without checks was refused");
      }
    }));
    return (performance.now() - started) / 1000;
  });
}
