/**
 * Restricted keys (`rk_test_…`) with the permissions given at emulator start,
 * answered as Stripe answers a key that lacks one: HTTP 403,
 * `invalid_request_error`, a message naming the `rak_…` permission that would
 * let the request through. As in Stripe's Dashboard, a resource's permission
 * is None, Read or Write; GET needs read, POST and DELETE need write, and write
 * implies read. A `rk_test_` key the emulator was not told about may do
 * everything (as before restricted keys were emulated).
 */
import { ApiError } from "./errors.ts";

/** Permission names as Stripe spells them without the `rak_` prefix, e.g. `refund_write`. */
export type RestrictedKeys = Record<string, string[]>;

export const EMULATOR_ACCOUNT = "acct_1PayOpsEmulator0";

const singular = (segment: string) => segment.replace(/ies$/, "y").replace(/s$/, "");

/**
 * The resource a request path belongs to: its first segment after /v1, in the
 * singular; under a namespace (`/v1/radar/early_fraud_warnings`) the namespace
 * and its resource (`radar_early_fraud_warning`).
 */
export function resourceOf(pathname: string): string | null {
  const [, , first, second] = pathname.split("/");
  if (!first) return null;
  if (first === "radar") return second ? `radar_${singular(second)}` : null;
  const named: Record<string, string> = {
    balance: "balance",
    webhook_endpoints: "webhook",
  };
  return named[first] ?? singular(first);
}

/** The permission the request needs, e.g. `dispute_write` for POST /v1/disputes/dp_1. */
export function permissionFor(method: string, pathname: string): string | null {
  const resource = resourceOf(pathname);
  if (!resource) return null;
  return `${resource}_${method === "GET" ? "read" : "write"}`;
}

function allows(granted: string[], needed: string): boolean {
  if (granted.includes(needed)) return true;
  return needed.endsWith("_read") && granted.includes(needed.replace(/_read$/, "_write"));
}

/** Stripe's redaction: the prefix, asterisks, and the key's last six characters. */
function redact(key: string): string {
  const prefix = key.slice(0, 8);
  return `${prefix}${"*".repeat(Math.max(0, key.length - 14))}${key.slice(-6)}`;
}

/** Null when the key may make the request; otherwise Stripe's 403. */
export function permissionError(
  keys: RestrictedKeys,
  key: string,
  method: string,
  pathname: string,
): ApiError | null {
  const granted = keys[key];
  if (!granted || !key.startsWith("rk_")) return null;
  const needed = permissionFor(method, pathname);
  if (!needed || allows(granted, needed)) return null;
  return new ApiError(403, {
    type: "invalid_request_error",
    message: `The provided key '${redact(key)}' does not have the required permissions for ` +
      `this endpoint on account '${EMULATOR_ACCOUNT}'. Having the 'rak_${needed}' permission ` +
      "would allow this request to continue.",
  });
}
