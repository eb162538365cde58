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
import { getAdmin, getTokenAndRateCount } from "../../kv/admins.ts";
import { rateWindowKey, readRateCount } from "../../kv/identity_factors.ts";
import { API_TOKEN_FORMAT, hashToken } from "./crypto.ts";
import { type PrefetchedCount, type RateLimits, windowOf } from "./rate_window.ts";
import type { IdentityDeps } from "./accounts.ts";

export const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The bearer token's shape checks, before any KV read. */
function bearerToken(authorization: string | undefined): string {
  if (!authorization || authorization.trim() === "") {
    throw new AppError("unauthenticated", "send Authorization: Bearer <token>");
  }
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
        ? "unknown token: an API token is pot_ and 43 characters; this one is " +
          `${token.length - 4}: copy the whole token`
        : token.startsWith("psu_")
        ? "this is a step-up token: send it as X-Step-Up, with your API token in " +
          "`Authorization: Bearer pot_…`"
        : "unknown token: this service's API tokens are pot_ and 43 characters " +
          "(from `deno task admin create`, or `POST /api/admin/enroll`)",
    );
  }
  return token;
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
          "it (an operator or admin needs a second admin's approval); re-enabling hands over " +
          "an enrollment code for new credentials, never the old ones",
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
