/**
 * The guard's first check: the bearer token names an active admin whose
 * current, unexpired token it is. A hash -> admin id cache saves the token
 * index read; the first read of a token also fetches its API window count for
 * the throttle (`takePrefetched`). Concurrent requests of one admin share
 * one read of its record, never one that began before they arrived
 * (core/coalesce.ts): a token rotated or revoked before a request arrives is
 * refused, as with a read of its own.
 */
import type { Principal } from "../../domain/actor.ts";
import type { AdminRecord } from "../../domain/admin.ts";
import { AppError } from "../../core/errors.ts";
import { createCoalescer } from "../../core/coalesce.ts";
import {
  getAdmin,
  getTokenAndRateCount,
  getTokenRotated,
  type TokenRotated,
} from "../../kv/admins.ts";
import { rateWindowKey, readRateCount } from "../../kv/identity_factors.ts";
import { API_TOKEN_FORMAT, hashToken } from "./crypto.ts";
import { type PrefetchedCount, type RateLimits, windowOf } from "./rate_window.ts";
import type { IdentityDeps } from "./accounts.ts";

export const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * An Authorization header holding more than one credential: two headers arrive joined by a
 * comma, and no token holds one.
 */
export function refuseSeveralCredentials(authorization: string): void {
  if (!authorization.includes(",")) return;
  throw new AppError(
    "unauthenticated",
    "the Authorization header holds more than one credential (sent twice, or several joined " +
      "by commas): send it once, with one token: `Authorization: Bearer pot_…`",
  );
}

/** The bearer token's shape checks, before any KV read. */
function bearerToken(authorization: string | undefined): string {
  if (!authorization || authorization.trim() === "") {
    throw new AppError("unauthenticated", "send Authorization: Bearer <token>");
  }
  refuseSeveralCredentials(authorization);
  const token = BEARER.exec(authorization)?.[1];
  if (!token) {
    throw new AppError(
      "unauthenticated",
      "the Authorization header is not a bearer token: send `Authorization: Bearer pot_…` " +
        "with the token from `deno task admin create`",
    );
  }
  if (!API_TOKEN_FORMAT.test(token)) {
    throw new AppError(
      "unauthenticated",
      token.startsWith("pot_")
        ? malformedToken(token)
        : token.startsWith("psu_")
        ? "this is a step-up token: send it as X-Step-Up, with your API token in " +
          "`Authorization: Bearer pot_…`"
        : "unknown token: this service's API tokens are pot_ and 43 characters " +
          "(from `deno task admin create`, or `POST /api/admin/enroll`)",
    );
  }
  return token;
}

/**
 * The record of the bearer token's own rotation by its admin (kept minutes), or null: no such
 * token, or not one rotated so.
 */
export async function rotatedOwnToken(
  kv: Deno.Kv,
  authorization: string | undefined,
): Promise<TokenRotated | null> {
  const token = authorization ? BEARER.exec(authorization)?.[1] : undefined;
  if (!token || !API_TOKEN_FORMAT.test(token)) return null;
  return (await getTokenRotated(kv, await hashToken(token))).value;
}

/**
 * What is wrong with a `pot_…` token not in the format: a character no token holds (named), or
 * its length, counted in characters. A header's bytes arrive one character each, so a token
 * typed with a non-ASCII character is read back from its UTF-8 bytes first.
 */
function malformedToken(token: string): string {
  const typed = [...fromHeaderBytes(token.slice(4))];
  const odd = typed.find((ch) => !/^[A-Za-z0-9_-]$/.test(ch));
  if (odd !== undefined) {
    const shown = /^[\x21-\x7e]$/.test(odd) || /\p{L}|\p{N}/u.test(odd)
      ? `"${odd}"`
      : `U+${odd.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
    return `unknown token: it holds ${shown} (character ${typed.indexOf(odd) + 5}), which API ` +
      "tokens never hold: they are pot_ and 43 letters, digits, - or _. Copy the whole token " +
      "again from the answer that issued it";
  }
  return `unknown token: an API token is pot_ and 43 characters; this one is ${typed.length}: ` +
    "copy the whole token";
}

/** `value` read back as UTF-8 when its characters are the bytes of a UTF-8 string. */
function fromHeaderBytes(value: string): string {
  const codes = [...value].map((ch) => ch.codePointAt(0)!);
  if (!codes.some((c) => c >= 0x80) || codes.some((c) => c > 0xff)) return value;
  const bytes = Uint8Array.from(codes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return value;
  }
}

export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<Principal>;
  /** the API window's count read with the token, once */
  takePrefetched(principal: Principal): PrefetchedCount | undefined;
}

export function createAuthenticator(
  d: IdentityDeps,
  limits: RateLimits,
  tokenTtlMs: number,
): Authenticator {
  const { kv, clock } = d;
  // The API window's count, read with the token in authenticate() and used by throttle().
  const prefetched = new WeakMap<Principal, PrefetchedCount>();
  // Token hash -> admin id, as the token index said. A hash names one issued token
  // for good, so this never goes stale; whether that token still works is decided
  // by the admin record, read on every request (rotation and disabling act at once).
  const adminIdByToken = new Map<string, string>();
  const adminReads = createCoalescer<AdminRecord | null>();
  const readAdmin = (id: string) => adminReads.read(id, async () => (await getAdmin(kv, id)).value);

  async function authenticate(authorization: string | undefined): Promise<Principal> {
    const token = bearerToken(authorization);
    const tokenHash = await hashToken(token);
    let adminId = adminIdByToken.get(tokenHash) ?? null;
    let ahead: PrefetchedCount | undefined;
    if (adminId === null) {
      // First sight of this token here: the throttle will want its count too.
      const window = windowOf(limits.api, clock.now());
      const read = await getTokenAndRateCount(
        kv,
        tokenHash,
        rateWindowKey("api", tokenHash, window),
      );
      adminId = read.adminId;
      ahead = { window, count: readRateCount(read.rate) };
    }
    const admin = adminId ? await readAdmin(adminId) : null;
    // The admin record names its one current token: a rotated token is unknown at once.
    if (!admin || admin.token_hash !== tokenHash) {
      adminIdByToken.delete(tokenHash);
      throw new AppError(
        "unauthenticated",
        "unknown token: it was rotated, revoked or never issued; send your current token " +
          "(a rotation's answer carries the new one), or ask an admin for a new one",
      );
    }
    if (admin.status !== "active") {
      throw new AppError(
        "unauthenticated",
        "this admin account is disabled: its token no longer works. Ask an admin to re-enable " +
          "it (an account its person enrolled is re-enabled on a second admin's approval); " +
          "re-enabling hands over an enrollment code for new credentials, never the old ones",
      );
    }
    const issued = Date.parse(admin.token_issued_at ?? admin.created_at);
    if (issued + tokenTtlMs <= clock.now()) {
      throw new AppError(
        "unauthenticated",
        `this token expired (API_TOKEN_TTL_DAYS after ${
          new Date(issued).toISOString()
        }); rotate it before it expires with POST /api/admin/me/rotate-token, or ask an admin`,
      );
    }
    if (!adminIdByToken.has(tokenHash)) {
      if (adminIdByToken.size >= 10_000) adminIdByToken.clear();
      adminIdByToken.set(tokenHash, admin.id);
    }
    const principal: Principal = {
      admin_id: admin.id,
      role: admin.role,
      email: admin.email,
      token_hash: tokenHash,
      second_factor: false,
    };
    if (ahead) prefetched.set(principal, ahead);
    return principal;
  }

  return {
    authenticate,
    takePrefetched(principal) {
      const ahead = prefetched.get(principal);
      prefetched.delete(principal);
      return ahead;
    },
  };
}
