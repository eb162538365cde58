/** What every service is handed. Built by main.ts (and by tests); nothing is opened at import time. */
import type { Config } from "../config.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";
import { type StripeGateway } from "./stripe/mod.ts";
import type { Metrics } from "../core/metrics.ts";

export interface Deps {
  kv: Deno.Kv;
  /**
   * A second handle on the same store, for reads whose versionstamps are
   * checked at commit (the event applier's). On a local file each handle has
   * one SQLite thread, so these reads no longer queue behind a commit on
   * `kv`'s. Absent (in memory, on Deno Deploy): `kv` serves them.
   */
  kvReads?: Deno.Kv;
  stripe: StripeGateway;
  clock: Clock;
  /** `auditSigningKey` is resolved before the app is built (generated and kept in KV in demo mode) */
  config: Config & { auditSigningKey: string };
  log: Logger;
  /** the process's metrics registry (GET /metrics); absent: createServices makes one */
  metrics?: Metrics;
}
