/**
 * What a start did with FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE, and the log line
 * that says so (README, "Deploying to Deno Deploy"); the code itself is never logged.
 */
import type { IdentityDeps } from "./accounts.ts";

/** What a start did with the two variables (what it logs). */
export type FirstAdminOutcome =
  | { outcome: "created" | "reissued"; admin_id: string; email: string; expires_at: string }
  /** the code issued earlier waits; `same_code`: the variable is that code */
  | { outcome: "waiting"; admin_id: string; email: string; expires_at: string; same_code: boolean }
  | { outcome: "unused"; reason: string };

/** One log line; the code is never in it. */
export function reportFirstAdmin(d: IdentityDeps, o: FirstAdminOutcome): void {
  const enroll = 'POST /api/admin/enroll {"code": "<FIRST_ADMIN_ENROLLMENT_CODE>"}';
  if (o.outcome === "unused") {
    d.log.warn(
      "FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE are no longer used: remove them from " +
        "the environment",
      { reason: o.reason },
    );
    return;
  }
  const fields = { admin_id: o.admin_id, email: o.email, expires_at: o.expires_at };
  if (o.outcome === "created") {
    d.log.warn(`first admin created from FIRST_ADMIN_EMAIL; enroll with ${enroll}`, fields);
  } else if (o.outcome === "reissued") {
    d.log.warn(`first admin's code expired unused and was issued again; ${enroll}`, fields);
  } else if (o.outcome === "waiting" && o.same_code) {
    d.log.info(`first admin waits for enrollment: ${enroll}`, fields);
  } else {
    d.log.warn(
      "first admin waits for enrollment with the code issued earlier, not the one " +
        "FIRST_ADMIN_ENROLLMENT_CODE holds now; a start after it expires issues the one set then",
      fields,
    );
  }
}
