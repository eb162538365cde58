/**
 * The first admin made at start-up from FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE (README,
 * "Deploying to Deno Deploy"): the code is the operator's own, redeemed at `POST
 * /api/admin/enroll` like any enrollment code.
 */
import { canonicalEmail } from "./admin.ts";
import { strayCharacter, whitespaceFix } from "../core/secret_setting.ts";

/** The two variables, named as an operator sets them. */
export const FIRST_ADMIN_VARIABLES = ["FIRST_ADMIN_EMAIL", "FIRST_ADMIN_ENROLLMENT_CODE"] as const;

/** Shortest code taken: a guess must be hopeless (`openssl rand -base64 32` gives 44). */
export const FIRST_ADMIN_CODE_MIN = 32;
/** Longest code taken: what `POST /api/admin/enroll` accepts as `code`. */
export const FIRST_ADMIN_CODE_MAX = 100;

/** Printable ASCII with no space: what `openssl rand -base64` or `-hex` prints. */
export const FIRST_ADMIN_CODE_FORMAT = new RegExp(
  `^[\\x21-\\x7e]{${FIRST_ADMIN_CODE_MIN},${FIRST_ADMIN_CODE_MAX}}$`,
);

/** What is wrong with `code` as a first admin's code, never quoting it; null when it is fine. */
export function firstAdminCodeProblem(code: string): string | null {
  if (code.length < FIRST_ADMIN_CODE_MIN) {
    return `must be at least ${FIRST_ADMIN_CODE_MIN} characters (it has ${code.length}); make ` +
      "one with `openssl rand -base64 32`";
  }
  if (code.length > FIRST_ADMIN_CODE_MAX) {
    return `must be at most ${FIRST_ADMIN_CODE_MAX} characters (POST /api/admin/enroll takes no ` +
      "longer code); make one with `openssl rand -base64 32`";
  }
  if (!FIRST_ADMIN_CODE_FORMAT.test(code)) {
    // which character, by its place, never the code (core/secret_setting.ts)
    const stray = strayCharacter(code, (c) => /^[\x21-\x7e]$/.test(c));
    const fix = stray?.whitespace
      ? whitespaceFix("FIRST_ADMIN_ENROLLMENT_CODE", stray.whitespace)
      : "make one with `openssl rand -base64 32`";
    return `must be printable ASCII with no spaces; it has ${stray?.text}; ${fix}`;
  }
  return null;
}

/**
 * `["first_admin"]`: which account the start-up made and the code it issued last (its hash).
 * Written once with versionstamp null checked, so of isolates starting together one makes it.
 */
export interface FirstAdminMarker {
  admin_id: string;
  email: string;
  created_at: string;
  /** SHA-256 (hex) of the code issued last; the code itself is never stored */
  code_hash: string;
  issued_at: string;
  expires_at: string;
}

/** The two variables as read, or the first one wrong and why (never quoting the code). */
export type FirstAdminSetting =
  | { ok: true; value: { email: string; code: string } | undefined }
  | { ok: false; variable: (typeof FIRST_ADMIN_VARIABLES)[number]; problem: string };

/**
 * FIRST_ADMIN_EMAIL and FIRST_ADMIN_ENROLLMENT_CODE: both or neither, a code hard to guess, and
 * not in demo mode, which makes its own first admin (README, Configuration).
 */
export function readFirstAdminSetting(
  email: string | undefined,
  code: string | undefined,
  demo: boolean,
): FirstAdminSetting {
  if (email === undefined && code === undefined) return { ok: true, value: undefined };
  if (code === undefined) {
    return {
      ok: false,
      variable: "FIRST_ADMIN_ENROLLMENT_CODE",
      problem: "not set, and FIRST_ADMIN_EMAIL is: set it too (make one with " +
        "`openssl rand -base64 32`), or unset FIRST_ADMIN_EMAIL",
    };
  }
  if (email === undefined) {
    return {
      ok: false,
      variable: "FIRST_ADMIN_EMAIL",
      problem: "not set, and FIRST_ADMIN_ENROLLMENT_CODE is: set it to the first admin's email, " +
        "or unset FIRST_ADMIN_ENROLLMENT_CODE",
    };
  }
  const canonical = canonicalEmail(email);
  if (canonical === null) {
    return { ok: false, variable: "FIRST_ADMIN_EMAIL", problem: "must be an email address" };
  }
  const problem = firstAdminCodeProblem(code);
  if (problem) return { ok: false, variable: "FIRST_ADMIN_ENROLLMENT_CODE", problem };
  if (demo) {
    return {
      ok: false,
      variable: "FIRST_ADMIN_EMAIL",
      problem: "demo mode makes its own first admin (demo@example.com); unset FIRST_ADMIN_EMAIL " +
        "and FIRST_ADMIN_ENROLLMENT_CODE, or set STRIPE_SECRET_KEY (and unset DEMO)",
    };
  }
  return { ok: true, value: { email: canonical, code } };
}
