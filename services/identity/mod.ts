/**
 * Identity: admins and their API tokens, roles, enrollment codes and account
 * requests (through the approvals queue), TOTP enrolment and step-up tokens, the sign-in throttle, and the
 * guard the routes' middleware calls on every request.
 */
export { createDemoAdmin, createIdentityService } from "./service.ts";
export { isGuess as countsAgainstAddress } from "./enrollment_refusals.ts";
export type { AdminCredentials, IdentityGuard, IdentityOptions } from "./service.ts";
