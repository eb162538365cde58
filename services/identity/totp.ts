/**
 * TOTP (RFC 6238) on the `otpauth` package: SHA-1, 30-second steps, 6 digits,
 * which is what authenticator apps expect from an `otpauth://` URI.
 * Pure functions of a secret and a time; replay and lockout live in
 * services/identity/second_factor.ts.
 */
import * as OTPAuth from "otpauth";

export const TOTP_PERIOD_S = 30;
export const TOTP_DIGITS = 6;
/** steps accepted either side of now, for clock drift between phone and server */
export const TOTP_WINDOW = 1;
const ISSUER = "PayOps";

export interface TotpOptions {
  digits?: number;
  algorithm?: "SHA1" | "SHA256" | "SHA512";
}

function totp(secretBase32: string, label = "admin", options: TotpOptions = {}): OTPAuth.TOTP {
  return new OTPAuth.TOTP({
    issuer: ISSUER,
    label,
    secret: OTPAuth.Secret.fromBase32(secretBase32),
    algorithm: options.algorithm ?? "SHA1",
    digits: options.digits ?? TOTP_DIGITS,
    period: TOTP_PERIOD_S,
  });
}

/** A fresh 160-bit secret (RFC 4226's recommended length), base32. */
export function newTotpSecret(): string {
  return new OTPAuth.Secret({ size: 20 }).base32;
}

/** The `otpauth://totp/...` URI an authenticator app scans. */
export function totpUri(secretBase32: string, email: string): string {
  return totp(secretBase32, email).toString();
}

/** The time-step (RFC 6238's T) of `ms`. */
export function timeStep(ms: number): number {
  return Math.floor(ms / 1000 / TOTP_PERIOD_S);
}

/** The code for the step containing `ms` (tests, the demo). */
export function totpCode(secretBase32: string, ms: number, options: TotpOptions = {}): string {
  return totp(secretBase32, "admin", options).generate({ timestamp: ms });
}

/** Compares two codes in time independent of where they differ. */
function sameCode(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  }
  return diff === 0;
}

/**
 * Every time-step within `TOTP_WINDOW` steps either side of `ms` whose code is
 * `code`, in order: usually none or one, two when the same six digits come up
 * in steps next to each other (about one step in a million). Each step of the
 * window is computed and compared, whatever matched first.
 */
export function matchTotpSteps(
  secretBase32: string,
  code: string,
  ms: number,
  options: TotpOptions = {},
): number[] {
  const generator = totp(secretBase32, "admin", options);
  const now = timeStep(ms);
  const steps: number[] = [];
  for (let step = now - TOTP_WINDOW; step <= now + TOTP_WINDOW; step++) {
    const expected = generator.generate({ timestamp: step * TOTP_PERIOD_S * 1000 });
    if (sameCode(code, expected)) steps.push(step);
  }
  return steps;
}

/** The latest time-step within the window whose code is `code`, or null. */
export function matchTotpStep(
  secretBase32: string,
  code: string,
  ms: number,
  options: TotpOptions = {},
): number | null {
  return matchTotpSteps(secretBase32, code, ms, options).at(-1) ?? null;
}
