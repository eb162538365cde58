/**
 * Checking the chain, and signing checkpoints of its head.
 *
 * `verifyAuditChain` walks every entry in seq order (streamed from KV, never
 * all in memory), recomputing each hash and link, and compares the signed
 * checkpoints on the way: an attacker who rewrites the tail and recomputes
 * every hash still cannot produce the hash a checkpoint signed earlier.
 */
import type { Deps } from "../deps.ts";
import { entryHash, hmacHex } from "./entry.ts";
import {
  addCheckpoint,
  getCheckpoint,
  getEntry,
  iterateCheckpoints,
  iterateEntries,
  latestCheckpoint,
  readHead,
  readHeadAndEntry,
} from "../../kv/audit.ts";
import { type AuditCheckpoint, type AuditHead, GENESIS_HEAD } from "../../domain/audit_entry.ts";

export type VerifyProblem =
  | "hash_mismatch"
  | "prev_hash_mismatch"
  | "missing"
  | "out_of_order"
  | "head_mismatch"
  | "checkpoint_mismatch";

export interface VerifyResult {
  ok: boolean;
  /** entries found intact (up to the first bad one) */
  entries: number;
  /** checkpoints whose signature and hash were confirmed */
  checkpoints: number;
  head: { seq: number; hash: string };
  first_bad?: { seq: number; problem: VerifyProblem; detail: string };
}

function checkpointMessage(cp: Pick<AuditCheckpoint, "seq" | "hash" | "at">): string {
  return `${cp.seq}|${cp.hash}|${cp.at}`;
}

export async function signCheckpoint(
  secret: string,
  cp: Pick<AuditCheckpoint, "seq" | "hash" | "at">,
): Promise<string> {
  return await hmacHex(secret, checkpointMessage(cp));
}

function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

interface WalkOptions {
  /** the last entry known good (genesis, or a checkpoint) */
  start: { seq: number; hash: string };
  head: AuditHead;
  /** compare the checkpoints on the way (full verify) */
  checkpoints?: AsyncIterator<AuditCheckpoint>;
  secret: string;
}

type WalkResult = Omit<VerifyResult, "head">;

/** Walks `(start.seq, head.seq]`, stopping at the first problem. */
async function walk(kv: Deno.Kv, options: WalkOptions): Promise<WalkResult> {
  const { start, head, secret } = options;
  let expected = start.seq + 1;
  let prevHash = start.hash;
  let intact = 0;
  let confirmed = 0;
  const bad = (seq: number, problem: VerifyProblem, detail: string): WalkResult => ({
    ok: false,
    entries: intact,
    checkpoints: confirmed,
    first_bad: { seq, problem, detail },
  });
  let cp = options.checkpoints ? await options.checkpoints.next() : null;
  // Checkpoints at or before where the walk starts cannot be compared here.
  while (cp && !cp.done && cp.value.seq < expected) cp = await options.checkpoints!.next();

  for await (const { keySeq, entry } of iterateEntries(kv, { from: expected, to: head.seq })) {
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
    while (cp && !cp.done && cp.value.seq === keySeq) {
      const problem = await checkpointProblem(secret, cp.value, entry.hash);
      if (problem) return bad(keySeq, "checkpoint_mismatch", problem);
      confirmed++;
      cp = await options.checkpoints!.next();
    }
    prevHash = entry.hash;
    intact++;
    expected++;
  }
  if (expected <= head.seq) {
    return bad(expected, "missing", `entries ${expected}..${head.seq} are gone`);
  }
  if (prevHash !== head.hash) {
    return bad(head.seq, "head_mismatch", "the head's hash is not the last entry's");
  }
  if (cp && !cp.done) {
    return bad(
      cp.value.seq,
      "checkpoint_mismatch",
      `a checkpoint was signed at seq ${cp.value.seq} but the chain ends at ${head.seq}`,
    );
  }
  return { ok: true, entries: intact, checkpoints: confirmed };
}

async function checkpointProblem(
  secret: string,
  cp: AuditCheckpoint,
  chainHash: string,
): Promise<string | null> {
  if (!sameHex(await signCheckpoint(secret, cp), cp.signature)) {
    return `the checkpoint at seq ${cp.seq} has an invalid signature`;
  }
  if (cp.hash !== chainHash) {
    return `the chain's hash at seq ${cp.seq} differs from the signed checkpoint (rewritten history)`;
  }
  return null;
}

/** An entry stored past the head means the head was moved back. */
async function entriesPastHead(kv: Deno.Kv, head: AuditHead): Promise<boolean> {
  const { head: now, next } = await readHeadAndEntry(kv, head.seq + 1);
  return next !== null && (now?.seq ?? 0) < head.seq + 1;
}

/** Recomputes the whole chain and compares every checkpoint. */
export async function verifyAuditChain(deps: Deps): Promise<VerifyResult> {
  const { kv } = deps;
  const head = (await readHead(kv)).value ?? GENESIS_HEAD;
  const checkpoints = iterateCheckpoints(kv);
  try {
    const result = await walk(kv, {
      start: GENESIS_HEAD,
      head,
      checkpoints,
      secret: deps.config.auditSigningKey,
    });
    const out: VerifyResult = { ...result, head: { seq: head.seq, hash: head.hash } };
    if (out.ok && await entriesPastHead(kv, head)) {
      out.ok = false;
      out.first_bad = {
        seq: head.seq + 1,
        problem: "head_mismatch",
        detail: `entry ${head.seq + 1} exists but the head says ${head.seq}`,
      };
    }
    return out;
  } finally {
    await checkpoints.return(undefined);
  }
}

export type CheckpointOutcome =
  | { ok: true; checkpoint: AuditCheckpoint; created: boolean }
  | { ok: false; first_bad: NonNullable<VerifyResult["first_bad"]> }
  | { ok: true; checkpoint: null; created: false };

/**
 * Cron job: signs and records the current head. It first checks the entries
 * added since the last checkpoint link up to it, so a tampered tail is never
 * blessed. Idempotent: a head already checkpointed is left alone.
 */
export async function checkpointAuditHead(deps: Deps): Promise<CheckpointOutcome> {
  const { kv, clock } = deps;
  const secret = deps.config.auditSigningKey;
  const head = (await readHead(kv)).value;
  if (!head) return { ok: true, checkpoint: null, created: false };
  const latest = await latestCheckpoint(kv);
  if (latest && latest.seq === head.seq) return { ok: true, checkpoint: latest, created: false };
  let start: { seq: number; hash: string } = GENESIS_HEAD;
  if (latest && latest.seq > head.seq) {
    const detail = `a checkpoint was signed at seq ${latest.seq} but the head is ${head.seq}`;
    deps.log.error("audit chain broken; checkpoint not signed", { detail });
    return { ok: false, first_bad: { seq: latest.seq, problem: "checkpoint_mismatch", detail } };
  }
  if (latest) {
    const problem = await checkpointProblem(
      secret,
      latest,
      (await getEntry(kv, latest.seq))?.hash ?? "",
    );
    if (problem) {
      return {
        ok: false,
        first_bad: { seq: latest.seq, problem: "checkpoint_mismatch", detail: problem },
      };
    }
    start = latest;
  }
  const walked = await walk(kv, { start, head, secret });
  if (!walked.ok) {
    deps.log.error("audit chain broken; checkpoint not signed", { first_bad: walked.first_bad });
    return { ok: false, first_bad: walked.first_bad! };
  }
  const body = { seq: head.seq, hash: head.hash, at: clock.now() };
  const checkpoint: AuditCheckpoint = { ...body, signature: await signCheckpoint(secret, body) };
  if (await addCheckpoint(kv, checkpoint)) return { ok: true, checkpoint, created: true };
  // Another isolate checkpointed the same head first.
  return { ok: true, checkpoint: (await getCheckpoint(kv, head.seq))!, created: false };
}
