/**
 * The doctor on FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE (README, "Deploying to Deno
 * Deploy"): what the server's next start does with them on this store, and a warning once they
 * are no longer used. Read only; the code is never shown.
 */
import type { Config } from "../config.ts";
import { ignoredEmail, previewFirstAdmin } from "../services/identity/first_admin.ts";
import type { Finding } from "./doctor_checks.ts";

const CHECK = "first admin";
const REMOVE = "remove FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE from the server's " +
  "environment: they are read only while the store has no admin (or its first admin has not " +
  "enrolled)";
const ENROLL = 'POST /api/admin/enroll {"code": "<FIRST_ADMIN_ENROLLMENT_CODE>"}';

/** `kv` null: the store was not read (`--no-store`, or it did not answer). */
export async function checkFirstAdmin(
  config: Config,
  kv: Deno.Kv | null,
  now: number,
): Promise<Finding[]> {
  const first = config.firstAdmin;
  if (!first) return [];
  if (!kv) {
    return [{
      check: CHECK,
      severity: "warn",
      detail: `FIRST_ADMIN_EMAIL (${first.email}) and FIRST_ADMIN_ENROLLMENT_CODE are set; the ` +
        "store was not read, so whether they are still used is not known here",
      fix: `once ${ENROLL} has answered with the first admin's credentials, ${REMOVE}`,
    }];
  }
  const o = await previewFirstAdmin(kv, first, now);
  return [...findings(o, first.email), ...otherEmail(o, first)];
}

/** FIRST_ADMIN_EMAIL set to another email than the account waiting to enroll: it is ignored. */
function otherEmail(
  o: Awaited<ReturnType<typeof previewFirstAdmin>>,
  first: { email: string; code: string },
): Finding[] {
  const ignored = ignoredEmail(o, first);
  if (ignored === null || !("admin_id" in o)) return [];
  return [{
    check: CHECK,
    severity: "warn",
    detail: `FIRST_ADMIN_EMAIL (${ignored}) differs from the email of ${o.admin_id} ` +
      `<${o.email}>, the first admin waiting to enroll, and is ignored: a start issues codes ` +
      "for that account alone",
    fix: `enroll ${o.email}'s account with ${ENROLL}, then make the others from it (POST ` +
      "/api/admin/users); or set FIRST_ADMIN_EMAIL back to that email",
  }];
}

function findings(o: Awaited<ReturnType<typeof previewFirstAdmin>>, email: string): Finding[] {
  switch (o.outcome) {
    case "create":
      return [{
        check: CHECK,
        severity: "ok",
        detail: `the store has no admin: the next start makes ${email} admin, with ` +
          `FIRST_ADMIN_ENROLLMENT_CODE as its enrollment code (24 h); then ${ENROLL}`,
      }];
    case "reissue":
      return [{
        check: CHECK,
        severity: "warn",
        detail: "the first admin's code expired unused; the next start issues " +
          "FIRST_ADMIN_ENROLLMENT_CODE again for the same account (24 h)",
        fix: `start the server again (a new deployment), then ${ENROLL}; then ${REMOVE}`,
      }];
    case "waiting":
      return [{
        check: CHECK,
        severity: o.same_code ? "ok" : "warn",
        detail: `${o.admin_id} <${o.email}> waits for enrollment until ${o.expires_at}` +
          (o.same_code ? "" : ", with the code issued earlier, not the one set now"),
        ...(o.same_code ? {} : {
          fix: "redeem the code set when the account was made, or wait until it expires: the " +
            "start after that issues the one set then",
        }),
      }];
    case "created":
    case "reissued":
      return []; // a start's outcomes; a preview writes nothing
    case "unused":
      return [{
        check: CHECK,
        severity: "warn",
        detail: `FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE are no longer used: ${o.reason}`,
        fix: REMOVE,
      }];
  }
}
