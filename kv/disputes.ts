/**
 * Dispute records, their indexes, evidence drafts and notes.
 *
 *   ["disputes", id]                        -> DisputeRecord (with its history)
 *   ["disputes_by_stripe", du_…]            -> id  (unique: versionstamp null on create)
 *   ["disputes_by_transaction", txn, id]    -> id
 *   ["disputes_by_due", due_ms, id]         -> id  (only while the dispute can be answered)
 *   ["dispute_drafts", id, n]               -> string (chunk n of the draft's JSON)
 *   ["dispute_notes", id, note_id]          -> DisputeNote
 *   ["dispute_uploads", id, digest]         -> DisputeUpload (expires)
 *
 * `add…` functions only add checks and mutations to an atomic op, so callers
 * commit them with the change that needs them and its audit entry.
 */
import { keys } from "./keys.ts";
import { getTransaction } from "./transactions.ts";
import { type CursorSealer, listIndexPage, type Page, scanPage } from "./pagination.ts";
import { acceptsEvidence, type DisputeNote, type DisputeRecord } from "../domain/dispute.ts";
import { type EvidenceDraft } from "../domain/dispute_evidence.ts";

/** Characters per draft chunk: well below KV's 64 KiB per value even at 2 bytes a character. */
const DRAFT_CHUNK_CHARS = 24_000;

export function getDispute(kv: Deno.Kv, id: string) {
  return kv.get<DisputeRecord>(keys.dispute(id));
}

export function getDisputeIdByStripe(kv: Deno.Kv, stripeId: string) {
  return kv.get<string>(keys.disputeByStripe(stripeId));
}

function dueIndexed(r: DisputeRecord): number | null {
  return r.evidence_due_by && acceptsEvidence(r.status) ? r.evidence_due_by * 1000 : null;
}

/** Creates a record and its indexes; fails the commit if Stripe's id is already recorded. */
export function addCreateDispute(op: Deno.AtomicOperation, r: DisputeRecord): void {
  op.check({ key: keys.dispute(r.id), versionstamp: null })
    .check({ key: keys.disputeByStripe(r.stripe_dispute), versionstamp: null })
    .set(keys.dispute(r.id), r)
    .set(keys.disputeByStripe(r.stripe_dispute), r.id)
    .set(keys.disputeByTransaction(r.transaction_id, r.id), r.id);
  const due = dueIndexed(r);
  if (due !== null) op.set(keys.disputeByDue(due, r.id), r.id);
}

/** Replaces the record read as `entry`, moving the deadline index; checked. */
export function addUpdateDispute(
  op: Deno.AtomicOperation,
  entry: Deno.KvEntry<DisputeRecord>,
  next: DisputeRecord,
): void {
  op.check(entry).set(keys.dispute(next.id), next);
  const before = dueIndexed(entry.value);
  const after = dueIndexed(next);
  if (before !== after) {
    if (before !== null) op.delete(keys.disputeByDue(before, next.id));
    if (after !== null) op.set(keys.disputeByDue(after, next.id), next.id);
  }
  if (entry.value.transaction_id !== next.transaction_id) {
    op.delete(keys.disputeByTransaction(entry.value.transaction_id, next.id));
    op.set(keys.disputeByTransaction(next.transaction_id, next.id), next.id);
  }
}

/** The disputes of one transaction. */
export async function listDisputesOfTransaction(
  kv: Deno.Kv,
  txnId: string,
): Promise<Deno.KvEntry<DisputeRecord>[]> {
  const out: Deno.KvEntry<DisputeRecord>[] = [];
  for await (const e of kv.list<string>({ prefix: keys.disputesByTransactionPrefix(txnId) })) {
    const r = await getDispute(kv, e.value);
    if (r.value) out.push(r as Deno.KvEntry<DisputeRecord>);
  }
  return out;
}

/** Ids of disputes that can be answered and are due before `dueMs`, soonest first. */
export async function listDisputeIdsDueBefore(
  kv: Deno.Kv,
  dueMs: number,
  limit = 500,
): Promise<string[]> {
  const out: string[] = [];
  const iter = kv.list<string>({
    start: keys.disputesByDuePrefix(),
    end: keys.disputesByDueBefore(dueMs),
  }, { limit });
  for await (const e of iter) out.push(e.value);
  return out;
}

export interface DisputeFilters {
  status?: string;
  phase?: string;
  assignee?: string;
  customer?: string;
  /** ms: only disputes due before this, soonest first */
  due_before?: number;
}

/**
 * A dispute that arrived before its payment was recorded without a customer;
 * the transaction knows it once the payment's events came: read it from there.
 */
export async function withCustomer(kv: Deno.Kv, r: DisputeRecord): Promise<DisputeRecord> {
  if (r.customer) return r;
  const customer = (await getTransaction(kv, r.transaction_id))?.customer ?? null;
  return customer ? { ...r, customer } : r;
}

function matches(r: DisputeRecord, f: DisputeFilters): boolean {
  return (!f.status || r.status === f.status) && (!f.phase || r.phase === f.phase) &&
    (!f.assignee || r.assignee === f.assignee) && (!f.customer || r.customer === f.customer);
}

/**
 * Newest first, filters applied as the records are read; with `due_before`,
 * the deadline index soonest first (a page may then hold fewer than `limit`
 * when other filters drop some; `next_cursor` continues).
 */
export async function listDisputes(
  kv: Deno.Kv,
  sealer: CursorSealer,
  f: DisputeFilters,
  page: { limit: number; cursor?: string },
): Promise<Page<DisputeRecord>> {
  const scope = `disputes:${JSON.stringify(f)}`;
  if (f.due_before !== undefined) {
    const got = await listIndexPage<DisputeRecord>(
      kv,
      sealer,
      { start: keys.disputesByDuePrefix(), end: keys.disputesByDueBefore(f.due_before) },
      keys.dispute,
      { ...page, scope, reverse: false },
    );
    const data = await Promise.all(got.data.map((r) => withCustomer(kv, r)));
    return { data: data.filter((r) => matches(r, f)), next_cursor: got.next_cursor };
  }
  return await scanPage<DisputeRecord, DisputeRecord>(
    kv,
    sealer,
    keys.disputesPrefix(),
    { ...page, scope, budget: 1000 },
    async ({ value }) => {
      const r = await withCustomer(kv, value);
      return matches(r, f) ? r : null;
    },
  );
}

/** Writes the draft's chunks and deletes the ones a longer previous draft left. */
export function addDraft(
  op: Deno.AtomicOperation,
  id: string,
  draft: EvidenceDraft,
  previousChunks: number,
): number {
  const text = JSON.stringify(draft);
  const chunks = Math.max(1, Math.ceil(text.length / DRAFT_CHUNK_CHARS));
  for (let n = 0; n < chunks; n++) {
    op.set(
      keys.disputeDraftChunk(id, n),
      text.slice(n * DRAFT_CHUNK_CHARS, (n + 1) * DRAFT_CHUNK_CHARS),
    );
  }
  for (let n = chunks; n < previousChunks; n++) op.delete(keys.disputeDraftChunk(id, n));
  return chunks;
}

export async function getDraft(kv: Deno.Kv, id: string): Promise<EvidenceDraft | null> {
  const parts: string[] = [];
  for await (const e of kv.list<string>({ prefix: keys.disputeDraftPrefix(id) })) {
    parts.push(e.value);
  }
  return parts.length ? JSON.parse(parts.join("")) as EvidenceDraft : null;
}

export function addNote(op: Deno.AtomicOperation, disputeId: string, note: DisputeNote): void {
  op.set(keys.disputeNote(disputeId, note.id), note);
}

export async function getNote(
  kv: Deno.Kv,
  disputeId: string,
  noteId: string,
): Promise<DisputeNote | null> {
  return (await kv.get<DisputeNote>(keys.disputeNote(disputeId, noteId))).value;
}

export async function listNotes(kv: Deno.Kv, disputeId: string): Promise<DisputeNote[]> {
  const out: DisputeNote[] = [];
  for await (const e of kv.list<DisputeNote>({ prefix: keys.disputeNotesPrefix(disputeId) })) {
    out.push(e.value);
  }
  return out;
}

/** An evidence file upload, kept a while so the same one sent again is the same file. */
export interface DisputeUpload {
  by: string;
  field: string;
  state: "sending" | "uploaded";
  file_id: string | null;
  /** ms: a `sending` claim older than this was abandoned (its process died) */
  lease_until: number;
  /** ms: from then on the same file sent again is another upload */
  expires_at: number;
}

export function getUpload(kv: Deno.Kv, id: string, digest: string) {
  return kv.get<DisputeUpload>(keys.disputeUpload(id, digest));
}

/** Writes `upload` if `entry` is still as read: its new versionstamp, or null when it was not. */
export async function putUpload(
  kv: Deno.Kv,
  entry: Deno.KvEntryMaybe<DisputeUpload>,
  upload: DisputeUpload,
  expireInMs: number,
): Promise<string | null> {
  const res = await kv.atomic().check(entry).set(entry.key, upload, { expireIn: expireInMs })
    .commit();
  return res.ok ? res.versionstamp : null;
}

/** Removes an upload claim that `entry` still is (the upload failed: the next try is afresh). */
export async function dropUpload(kv: Deno.Kv, entry: Deno.KvEntryMaybe<DisputeUpload>) {
  await kv.atomic().check(entry).delete(entry.key).commit();
}
