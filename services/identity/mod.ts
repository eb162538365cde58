/**
 * Identity: admins and their API tokens, roles and role grants (a second admin
 * approves), TOTP enrolment and step-up tokens, the sign-in throttle, and the
 * guard the routes' middleware calls on every request.
 */
export { createDemoAdmin, createIdentityService } from "./service.ts";
export type { AdminCredentials, IdentityGuard, IdentityOptions } from "./service.ts";
