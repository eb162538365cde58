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
    /**
     * the answer is the record as stored, byte for byte: its `ETag` is strong, and a write
     * takes it as `If-Match` (routes/etag.ts)
     */
    strongEtag?: boolean;
    /** for middleware declared with the route definitions (the guard); handlers use their router's `services` */
    services: Services;
  };
}
