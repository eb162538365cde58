/**
 * What redeeming an enrollment code answers when it refuses (README,
 * "Accounts and enrollment"): an unknown, expired or revoked code is 401
 * `enrollment_invalid` and counts against the address; one redeemed already
 * is `enrollment_invalid` too, saying when (`redeemed_at`), and does not.
 */
import { AppError } from "../../core/errors.ts";
import { type Enrollment, getEnrollment } from "../../kv/enrollments.ts";
import { getAdmin, getAdminIdByToken } from "../../kv/admins.ts";

export const invalid = (detail: string) => new AppError("enrollment_invalid", detail);

/**
 * A code that is not (or no longer) one: unknown, expired or revoked (a first admin's expired
 * code is told apart in first_admin_refusals.ts).
 */
export function unusable(e: Enrollment | null): AppError {
  if (e?.revoked_reason) {
    return invalid(
      `this enrollment code was revoked (${e.revoked_reason}); ask an admin for a new one`,
    );
  }
  return invalid(
    e
      ? `this enrollment code expired at ${e.expires_at} (codes last 24 h); ask an admin for a new one`
      : "unknown enrollment code: check that you copied all of it (enr_ and 32 characters, or " +
        "the whole FIRST_ADMIN_ENROLLMENT_CODE), or ask an admin for a new one",
  );
}

/**
 * A code that was redeemed (README, "Accounts and enrollment"): no longer
 * usable, but no guess either, so it says when (`redeemed_at`, which also
 * keeps it from counting against the address). Its credentials were in the
 * answer that redeemed it and are kept nowhere in the clear, so a second
 * click cannot be answered with them; whoever did not redeem it knows to raise it.
 */
export function redeemedAlready(e: Enrollment): AppError {
  return new AppError(
    "enrollment_invalid",
    `this enrollment code was redeemed at ${e.used_at}; each code works once and its ` +
      "credentials were shown once, in the answer that redeemed it. If you sent it twice, use " +
      "what the first answer carried; if that answer was lost, or it was not you, ask an admin " +
      "for a new code at once (disabling and re-enabling the account, approved by a second " +
      "admin, hands one over)",
    { extra: { redeemed_at: e.used_at } },
  );
}

/** Whether a refusal counts against the address: a wrong code does, a redeemed one does not. */
export function isGuess(error: AppError): boolean {
  return error.code === "enrollment_invalid" && error.extra?.redeemed_at === undefined;
}

/**
 * A second-factor reset's code sent without the current token of the account it is for: no
 * token, another account's token (a code is redeemed by its own holder; whose it is stays
 * unsaid), or one that is no account's current token.
 */
export async function wrongTokenProof(
  kv: Deno.Kv,
  adminId: string,
  tokenHash: string | null,
): Promise<AppError> {
  if (tokenHash === null) {
    return new AppError(
      "unauthenticated",
      "a new second factor is redeemed with your own current token: send " +
        "Authorization: Bearer <token> with the code",
    );
  }
  const owner = (await getAdminIdByToken(kv, tokenHash)).value;
  const other = owner && owner !== adminId ? (await getAdmin(kv, owner)).value : null;
  if (other?.token_hash === tokenHash) {
    return new AppError(
      "unauthenticated",
      "this enrollment code is for another account than the one whose token you sent: a code " +
        "is redeemed by the person it was handed over for, with their own current token. If it " +
        "is yours to pass on, hand it to them; nothing was redeemed",
    );
  }
  return new AppError(
    "unauthenticated",
    "the token you sent is not the current token of the account this code is for (rotated, " +
      "revoked or mistyped): a new second factor is redeemed with that account's own current " +
      "token in Authorization: Bearer <token>",
  );
}

/** How long a redemption whose TOTP code another one just spent waits for that one's commit. */
const REDEEM_WAIT_ROUNDS = 40;
const REDEEM_WAIT_MS = 25;

/**
 * The enrollment as it stands after the TOTP check refused `error`. When the code was replayed,
 * the request that spent it may still be committing the very redemption this one asked for
 * (the same code and TOTP code sent twice at once): read again, up to about a second, until it
 * shows used, so the loser is told the code was redeemed rather than that its TOTP code was.
 */
export async function redeemedMeanwhile(kv: Deno.Kv, codeHash: string, error: unknown) {
  const replayed = error instanceof AppError && error.code === "otp_replayed";
  const rounds = replayed ? REDEEM_WAIT_ROUNDS : 1;
  for (let round = 1;; round++) {
    const now = (await getEnrollment(kv, codeHash)).value;
    if (now?.used_at || round >= rounds) return now;
    await new Promise((resolve) => setTimeout(resolve, REDEEM_WAIT_MS));
  }
}
