/** The identity domain's face: what the rest of the service may use of it. */
export { createDemoAdmin, createIdentityService } from "./service.ts";
export type { AdminCredentials, IdentityGuard } from "./service.ts";
