/** The Hono environment every router shares. */
import type { Logger } from "../services/log.ts";
import type { Services } from "../services/mod.ts";

/** Who is calling, set by the authentication middleware. */
export interface Principal {
  admin_id: string;
  role: string;
  email: string;
  /** hash of the bearer token used, to bind step-up tokens to it */
  token_hash: string;
  /** a second factor was verified for this request */
  second_factor: boolean;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
    principal?: Principal;
    /** for middleware declared with the route definitions (the guard); handlers use their router's `services` */
    services: Services;
  };
}
