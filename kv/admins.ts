/**
 * Admins and their API tokens in KV (two-person requests: kv/approvals.ts).
 *
 *   ["admins", id]                         -> AdminRecord
 *   ["admins_by_email", email]             -> admin id      (unique; created with versionstamp: null)
 *   ["admin_tokens", sha256(token)]        -> admin id      (the clear token is never stored)
 *   ["admin_tokens_rotated", sha256(token)] -> TokenRotated (a token its admin rotated themself;
 *                                             expires after minutes)
 *   ["admin_removals_alone", id]           -> AdminRemovalAlone (the admin's last removal of an
 *                                             admin made alone; expires after the window)
 *
 * Functions named `add…` only add checks and mutations to an atomic op, so
 * callers can commit them together with their audit entries.
 */
import { keys } from "./keys.ts";
import type { AdminRecord, AdminRemovalAlone } from "../domain/admin.ts";
import { getManyChunked } from "./atomic.ts";

export function getAdmin(kv: Deno.Kv, id: string): Promise<Deno.KvEntryMaybe<AdminRecord>> {
  return kv.get<AdminRecord>(keys.admin(id));
}

export async function getAdmins(kv: Deno.Kv, ids: string[]): Promise<AdminRecord[]> {
  const rows = await getManyChunked<AdminRecord>(kv, ids.map((id) => keys.admin(id)));
  return rows.flatMap((r) => r.value ? [r.value] : []);
}

export function getAdminIdByEmail(
  kv: Deno.Kv,
  email: string,
): Promise<Deno.KvEntryMaybe<string>> {
  return kv.get<string>(keys.adminByEmail(email));
}

export function getAdminIdByToken(
  kv: Deno.Kv,
  tokenHash: string,
): Promise<Deno.KvEntryMaybe<string>> {
  return kv.get<string>(keys.adminToken(tokenHash));
}

/** A token its admin rotated themself: whose, and when the new one was issued. */
export interface TokenRotated {
  admin_id: string;
  /** ISO 8601 */
  rotated_at: string;
}

export function getTokenRotated(
  kv: Deno.Kv,
  tokenHash: string,
): Promise<Deno.KvEntryMaybe<TokenRotated>> {
  return kv.get<TokenRotated>(keys.adminTokenRotated(tokenHash));
}

/** Records that the token hashed `tokenHash` was rotated by its admin (kept `ttlMs`). */
export function addTokenRotated(
  op: Deno.AtomicOperation,
  tokenHash: string,
  row: TokenRotated,
  ttlMs: number,
): void {
  op.set(keys.adminTokenRotated(tokenHash), row, { expireIn: ttlMs });
}

/** What `listPage` walks for the admins listing (ULID ids: time order). */
export function adminsSelector(): Deno.KvListSelector {
  return { prefix: keys.adminsPrefix() };
}

/** The admin id a token hash names, and the token's API request count in `window`, in one read. */
export async function getTokenAndRateCount(
  kv: Deno.Kv,
  tokenHash: string,
  rateKey: Deno.KvKey,
): Promise<{ adminId: string | null; rate: Deno.KvEntryMaybe<Deno.KvU64> }> {
  const [id, rate] = await kv.getMany<[string, Deno.KvU64]>([keys.adminToken(tokenHash), rateKey]);
  return { adminId: id.value, rate };
}

/** True when at least one admin record exists (any role, any status). */
export async function anyAdminExists(kv: Deno.Kv): Promise<boolean> {
  for await (const _ of kv.list({ prefix: keys.adminsPrefix() }, { limit: 1 })) return true;
  return false;
}

/** Every admin, oldest first (CLI `list`; the API pages instead). */
export async function listAllAdmins(kv: Deno.Kv): Promise<AdminRecord[]> {
  const out: AdminRecord[] = [];
  for await (const e of kv.list<AdminRecord>({ prefix: keys.adminsPrefix() })) out.push(e.value);
  return out;
}

/**
 * Every admin (or the first `limit`, oldest first) with its versionstamp (to check the ones a
 * decision relied on).
 */
export async function listAdminEntries(
  kv: Deno.Kv,
  limit?: number,
): Promise<Deno.KvEntry<AdminRecord>[]> {
  const out: Deno.KvEntry<AdminRecord>[] = [];
  for await (const e of kv.list<AdminRecord>({ prefix: keys.adminsPrefix() }, { limit })) {
    out.push(e);
  }
  return out;
}

/** The last removal of an admin each of `ids` made alone, in order (null where none is kept). */
export function getRemovalsAlone(
  kv: Deno.Kv,
  ids: string[],
): Promise<Deno.KvEntryMaybe<AdminRemovalAlone>[]> {
  return getManyChunked<AdminRemovalAlone>(kv, ids.map((id) => keys.adminRemovalAlone(id)));
}

/**
 * Records `row` as `adminId`'s removal made alone, checking every row read
 * (the actor's and their linked accounts'): of concurrent removals by any of
 * them, one commits and the rest see it when built again.
 */
export function addRemovalAlone(
  op: Deno.AtomicOperation,
  read: Deno.KvEntryMaybe<AdminRemovalAlone>[],
  adminId: string,
  row: AdminRemovalAlone,
  ttlMs: number,
): void {
  for (const r of read) op.check(r);
  op.set(keys.adminRemovalAlone(adminId), row, { expireIn: ttlMs });
}

/** A new admin: record, unique email and token index, each checked absent. */
export function addCreateAdmin(op: Deno.AtomicOperation, admin: AdminRecord): void {
  op.check({ key: keys.admin(admin.id), versionstamp: null })
    .check({ key: keys.adminByEmail(admin.email), versionstamp: null })
    .check({ key: keys.adminToken(admin.token_hash), versionstamp: null })
    .set(keys.admin(admin.id), admin)
    .set(keys.adminByEmail(admin.email), admin.id)
    .set(keys.adminToken(admin.token_hash), admin.id);
}

/** Rewrites an admin read as `entry`; a token change moves the token index at once. */
export function addUpdateAdmin(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<AdminRecord>,
  next: AdminRecord,
): void {
  op.check(entry).set(keys.admin(next.id), next);
  if (next.token_hash !== entry.value.token_hash) {
    op.delete(keys.adminToken(entry.value.token_hash))
      .check({ key: keys.adminToken(next.token_hash), versionstamp: null })
      .set(keys.adminToken(next.token_hash), next.id);
  }
}
