/**
 * Checking the chain, and signing checkpoints of its head.
 *
 * `walk` goes through the entries in seq order (streamed from KV, never all
 * in memory), recomputing each hash and link, and compares the signed
 * checkpoints on the way: an attacker who rewrites the tail and recomputes
 * every hash still cannot produce the hash a checkpoint signed earlier. On a
 * full verify it also reads each entry's index rows (verify_indexes.ts);
 * what `verify` adds to the walk: verify_chain.ts.
 */
import { entryHash, hmacHex } from "./entry.ts";
import { iterateEntries, readHead } from "../../kv/audit.ts";
import type { AuditCheckpoint, AuditEntry, AuditHead } from "../../domain/audit_entry.ts";
import type { IndexCheck } from "./verify_indexes.ts";

export type VerifyProblem =
  | "truncated"
  | "hash_mismatch"
  | "prev_hash_mismatch"
  | "missing"
  | "out_of_order"
  | "head_mismatch"
  | "checkpoint_mismatch"
  | "index_mismatch";

export type { AuditHead };

export interface VerifyResult {
  ok: boolean;
  /** entries found intact (up to the first bad one) */
  entries: number;
  /** checkpoints whose signature and hash were confirmed */
  checkpoints: number;
  head: { seq: number; hash: string };
  first_bad?: {
    seq: number;
    problem: VerifyProblem;
    detail: string;
    /** a plain verify answering what a full one found: when that was (ISO 8601) */
    found_at?: string;
  };
  /** incremental: the checkpoint the walk started from (earlier entries were verified before) */
  from_seq?: number;
}

function checkpointMessage(cp: Pick<AuditCheckpoint, "seq" | "hash" | "at" | "n">): string {
  return `${cp.seq}|${cp.hash}|${cp.at}` + (cp.n !== undefined ? `|${cp.n}` : "");
}

export async function signCheckpoint(
  secret: string,
  cp: Pick<AuditCheckpoint, "seq" | "hash" | "at" | "n">,
): Promise<string> {
  return await hmacHex(secret, checkpointMessage(cp));
}

/** True when any of `secrets` (AUDIT_SIGNING_KEY's list) made `signature` over `message`. */
export async function signedByAny(
  secrets: string[],
  message: string,
  signature: string,
): Promise<boolean> {
  for (const s of secrets) if (sameHex(await hmacHex(s, message), signature)) return true;
  return false;
}

function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export interface WalkOptions {
  /** the last entry known good (genesis, or a checkpoint) */
  start: { seq: number; hash: string };
  head: AuditHead;
  /** compare the checkpoints on the way (full verify) */
  checkpoints?: AsyncIterator<AuditCheckpoint>;
  /** every key that verifies (the first signs) */
  secrets: string[];
  /** check each entry's index rows on the way (full verify) */
  indexes?: IndexCheck;
}

export type WalkResult = Omit<VerifyResult, "head"> & {
  lastCheckpoint?: AuditCheckpoint;
  /** the first entry walked after the last checkpoint confirmed (none signed covers it) */
  uncovered?: { seq: number; at: number };
};

/** Entries walked between two turns given to other requests (a KV batch's worth). */
const YIELD_EVERY = 200;

type WalkRow = { keySeq: number; entry: AuditEntry; indexProblem?: string | null };

/** Walks `(start.seq, head.seq]`, stopping at the first problem. */
export async function walk(kv: Deno.Kv, options: WalkOptions): Promise<WalkResult> {
  const { start, head, secrets } = options;
  let last: AuditCheckpoint | undefined;
  let expected = start.seq + 1;
  let prevHash = start.hash;
  let intact = 0;
  let confirmed = 0;
  let uncovered: WalkResult["uncovered"];
  const bad = (seq: number, problem: VerifyProblem, detail: string): WalkResult => ({
    ok: false,
    entries: intact,
    checkpoints: confirmed,
    first_bad: { seq, problem, detail },
  });
  let cp = options.checkpoints ? await options.checkpoints.next() : null;
  // Checkpoints at or before where the walk starts cannot be compared here.
  while (cp && !cp.done && cp.value.seq < expected) cp = await options.checkpoints!.next();

  const rows = iterateEntries(kv, { from: expected, to: head.seq });
  const source: AsyncIterable<WalkRow> = options.indexes ? options.indexes.annotate(rows) : rows;
  for await (const { keySeq, entry, indexProblem } of source) {
    if (keySeq !== expected) {
      return bad(expected, "missing", `entry ${expected} is gone (next stored is ${keySeq})`);
    }
    if (entry.seq !== keySeq) {
      return bad(keySeq, "out_of_order", `the entry stored at ${keySeq} says seq ${entry.seq}`);
    }
    if (entry.prev_hash !== prevHash) {
      return bad(keySeq, "prev_hash_mismatch", `prev_hash does not match entry ${keySeq - 1}`);
    }
    if (await entryHash(entry) !== entry.hash) {
      return bad(keySeq, "hash_mismatch", `the content of entry ${keySeq} was changed`);
    }
    uncovered ??= { seq: keySeq, at: entry.at };
    while (cp && !cp.done && cp.value.seq === keySeq) {
      const problem = await checkpointProblem(secrets, cp.value, entry.hash);
      if (problem) return bad(keySeq, "checkpoint_mismatch", problem);
      confirmed++;
      last = cp.value;
      uncovered = undefined;
      cp = await options.checkpoints!.next();
    }
    if (indexProblem) return bad(keySeq, "index_mismatch", indexProblem);
    prevHash = entry.hash;
    intact++;
    expected++;
    // between batches, let other requests run: a walk from seq 1 is seconds of hashing
    if (intact % YIELD_EVERY === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  if (expected <= head.seq) {
    return bad(expected, "missing", `entries ${expected}..${head.seq} are gone`);
  }
  if (prevHash !== head.hash) {
    return bad(head.seq, "head_mismatch", "the head's hash is not the last entry's");
  }
  // A checkpoint past the head read at the start is a truncation only if the head is still
  // short of it: entries appended and signed while the walk ran are not (the next verify
  // compares them).
  if (cp && !cp.done && ((await readHead(kv)).value?.seq ?? 0) < cp.value.seq) {
    return bad(
      cp.value.seq,
      "truncated",
      `a checkpoint was signed at seq ${cp.value.seq} but the chain ends at ${head.seq}`,
    );
  }
  return { ok: true, entries: intact, checkpoints: confirmed, lastCheckpoint: last, uncovered };
}

export async function checkpointProblem(
  secrets: string[],
  cp: AuditCheckpoint,
  chainHash: string,
): Promise<string | null> {
  if (!await signedByAny(secrets, checkpointMessage(cp), cp.signature)) {
    return `the checkpoint at seq ${cp.seq} has an invalid signature`;
  }
  if (cp.hash !== chainHash) {
    return `the chain's hash at seq ${cp.seq} differs from the signed checkpoint (rewritten history)`;
  }
  return null;
}
