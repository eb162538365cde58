/** Liveness and readiness. Readiness = KV answers within a short time. */
import { keys } from "../kv/keys.ts";
import { KV_PROBE_MS } from "../kv/deadline.ts";

/** What routes ask about the store's deadlines (kv/deadline.ts). */
export { isKvUnavailable, KV_PROBE_MS } from "../kv/deadline.ts";
import type { Deps } from "./deps.ts";

export interface Readiness {
  ok: boolean;
  checks: { kv: { ok: boolean; latency_ms: number; error?: string } };
}

export function createHealthService(deps: Pick<Deps, "kv" | "clock">) {
  return {
    async readiness(timeoutMs = KV_PROBE_MS): Promise<Readiness> {
      const started = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          deps.kv.get(keys.readiness()),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer within ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ]);
        return {
          ok: true,
          checks: { kv: { ok: true, latency_ms: round(performance.now() - started) } },
        };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return {
          ok: false,
          checks: {
            kv: { ok: false, latency_ms: round(performance.now() - started), error: message },
          },
        };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
