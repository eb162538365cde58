/** The Hono environment every router shares. */
import type { Logger } from "../core/log.ts";
import type { Services } from "../services/mod.ts";
import type { Principal } from "../domain/actor.ts";

export type { Principal };

export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
    principal?: Principal;
    /** for middleware declared with the route definitions (the guard); handlers use their router's `services` */
    services: Services;
  };
}
