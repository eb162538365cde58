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

/**
 * The time-step `code` belongs to, looking `TOTP_WINDOW` steps either side of
 * `ms`, or null. The comparison inside `otpauth` is constant-time.
 */
export function matchTotpStep(
  secretBase32: string,
  code: string,
  ms: number,
  options: TotpOptions = {},
): number | null {
  const delta = totp(secretBase32, "admin", options).validate({
    token: code,
    timestamp: ms,
    window: TOTP_WINDOW,
  });
  return delta === null ? null : timeStep(ms) + delta;
}
