/** What every service is handed. Built by main.ts (and by tests); nothing is opened at import time. */
import type { Config } from "../config.ts";
import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";
import type { StripeGateway } from "./stripe_gateway.ts";

export interface Deps {
  kv: Deno.Kv;
  stripe: StripeGateway;
  clock: Clock;
  /** `auditSigningKey` is resolved before the app is built (generated and kept in KV in demo mode) */
  config: Config & { auditSigningKey: string };
  log: Logger;
}
