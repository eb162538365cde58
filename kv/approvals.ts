/**
 * Two-person requests and the links between accounts in KV.
 *
 *   ["approvals", id]                        -> ApprovalRequest
 *   ["approvals_by_status", status, id]      -> id   (moved with each status change)
 *   ["admin_links", a, b]                    -> AdminLink (written both ways)
 *   ["account_requests_by_email", email]     -> id of the latest `user.create` request for it
 *   ["account_requests", admin id, kind]     -> id of the account's latest request of that kind
 *   ["admin_handlers", admin id, handler]    -> {at}: `handler` held a code for the account
 *
 * `add…` functions only add checks and mutations to an atomic op, so callers
 * commit them with their audit entries.
 */
import { keys } from "./keys.ts";
import type { ApprovalRequest } from "../domain/approval.ts";
import { type CursorSealer, listIndexPage, type Page } from "./pagination.ts";
import { getManyChunked } from "./atomic.ts";

export interface AdminLink {
  /** `created`, `approved`, `enrolled`, `granted` */
  why: string;
  at: string;
}

export function getApproval(
  kv: Deno.Kv,
  id: string,
): Promise<Deno.KvEntryMaybe<ApprovalRequest>> {
  return kv.get<ApprovalRequest>(keys.approval(id));
}

export function addCreateApproval(op: Deno.AtomicOperation, request: ApprovalRequest): void {
  op.check({ key: keys.approval(request.id), versionstamp: null })
    .set(keys.approval(request.id), request)
    .set(keys.approvalByStatus(request.status, request.id), request.id);
}

/** Rewrites a request read as `entry` (its versionstamp checked); the status index follows. */
export function addUpdateApproval(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<ApprovalRequest>,
  next: ApprovalRequest,
): void {
  op.check(entry).set(keys.approval(next.id), next);
  if (next.status !== entry.value.status) {
    op.delete(keys.approvalByStatus(entry.value.status, next.id))
      .set(keys.approvalByStatus(next.status, next.id), next.id);
  }
}

/** A page of requests in one status, newest first. */
export function listApprovalsByStatus(
  kv: Deno.Kv,
  sealer: CursorSealer,
  status: string,
  options: { limit: number; cursor?: string },
): Promise<Page<ApprovalRequest>> {
  return listIndexPage<ApprovalRequest>(
    kv,
    sealer,
    { prefix: keys.approvalsByStatusPrefix(status) },
    keys.approval,
    { ...options, scope: `approvals:${status}` },
  );
}

/** Links `a` and `b` both ways (idempotent: a second link just refreshes why). */
export function addAdminLink(
  op: Deno.AtomicOperation,
  a: string,
  b: string,
  link: AdminLink,
): void {
  if (a === b) return;
  op.set(keys.adminLink(a, b), link).set(keys.adminLink(b, a), link);
}

/** Records that `handler` held an enrollment code for `adminId` (in the commit issuing it). */
export function addAdminHandler(
  op: Deno.AtomicOperation,
  adminId: string,
  handler: string,
  at: string,
): void {
  op.set(keys.adminHandler(adminId, handler), { at });
}

/** Everyone who ever held an enrollment code for `adminId`. */
export async function adminHandlers(kv: Deno.Kv, adminId: string): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const e of kv.list({ prefix: keys.adminHandlersPrefix(adminId) }, { limit: 1000 })) {
    out.add(String(e.key[2]));
  }
  return out;
}

/**
 * Which of `others` are linked to `adminId`: each pair looked up by key, both
 * ways (links are written both ways; either row is enough), so an account with
 * any number of links is judged on the pairs that matter.
 */
export async function linkedAmong(
  kv: Deno.Kv,
  adminId: string,
  others: string[],
): Promise<Set<string>> {
  const pairs = others.flatMap((o) => [keys.adminLink(adminId, o), keys.adminLink(o, adminId)]);
  const rows = await getManyChunked(kv, pairs);
  const out = new Set<string>();
  rows.forEach((r, i) => {
    if (r.versionstamp !== null) out.add(others[Math.floor(i / 2)]);
  });
  return out;
}

/** Pending requests asked for by `requester` (of the first `scan` pending ones), with their entries. */
export async function pendingApprovalsOf(
  kv: Deno.Kv,
  requester: string,
  scan: number,
): Promise<Deno.KvEntry<ApprovalRequest>[]> {
  const ids: string[] = [];
  const index = kv.list<string>({ prefix: keys.approvalsByStatusPrefix("pending") }, {
    limit: scan,
  });
  for await (const e of index) ids.push(e.value);
  const rows = await getManyChunked<ApprovalRequest>(kv, ids.map((id) => keys.approval(id)));
  return rows.filter((r): r is Deno.KvEntry<ApprovalRequest> =>
    r.value !== null && r.value.status === "pending" && r.value.requested_by === requester
  );
}

/** The latest `user.create` request for `email`, as its index names it (it may be decided since). */
export function getAccountRequestByEmail(
  kv: Deno.Kv,
  email: string,
): Promise<Deno.KvEntryMaybe<string>> {
  return kv.get<string>(keys.accountRequestByEmail(email));
}

/** Points `email`'s index at `id`, checked against the entry read (a concurrent request loses). */
export function addAccountRequestByEmail(
  op: Deno.AtomicOperation,
  read: Deno.KvEntryMaybe<string>,
  email: string,
  id: string,
  ttlMs: number,
): void {
  op.check(read).set(keys.accountRequestByEmail(email), id, { expireIn: ttlMs });
}

export function getAccountRequest(
  kv: Deno.Kv,
  adminId: string,
  kind: string,
): Promise<Deno.KvEntryMaybe<string>> {
  return kv.get<string>(keys.accountRequest(adminId, kind));
}

/** Points the account's index for `kind` at `id`, checked against the entry read. */
export function addAccountRequest(
  op: Deno.AtomicOperation,
  read: Deno.KvEntryMaybe<string>,
  adminId: string,
  kind: string,
  id: string,
  ttlMs: number,
): void {
  op.check(read).set(keys.accountRequest(adminId, kind), id, { expireIn: ttlMs });
}
