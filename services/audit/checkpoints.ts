/**
 * Tamper evidence beyond the entries (README, "Audit checkpoints"):
 *
 *   - each checkpoint carries its ordinal and a signed count is kept with it,
 *     so deleting checkpoints shows;
 *   - each checkpoint is also written as a log line, so log shipping keeps a
 *     signed copy outside the KV;
 *   - `verify` takes a checkpoint the auditor kept (`expect_seq`,
 *     `expect_hash`) and says `truncated` when the chain no longer reaches it;
 *   - `verify` is incremental: it starts at the last checkpoint a verify
 *     confirmed (full on request).
 */
import type { Deps } from "../deps.ts";
import { hmacHex } from "./entry.ts";
import {
  getCheckpoint,
  getEntry,
  iterateCheckpoints,
  latestCheckpoint,
  readHead,
  readHeadAndEntry,
} from "../../kv/audit.ts";
import { type AuditCheckpoint, GENESIS_HEAD } from "../../domain/audit_entry.ts";
import {
  addCheckpointWithMeta,
  type CheckpointMeta,
  countCheckpoints,
  getCheckpointMeta,
  getVerifiedMarker,
  iterateCheckpointsAfter,
  setVerifiedMarker,
} from "../../kv/audit_meta.ts";
import {
  type AuditHead,
  checkpointProblem,
  signCheckpoint,
  signedByAny,
  type VerifyResult,
  walk,
  type WalkResult,
} from "./verify.ts";

export interface VerifyOptions {
  /** walk every entry from the start (default: from the last confirmed checkpoint) */
  full?: boolean;
  /** a checkpoint the auditor kept: the chain must still reach it with that hash */
  expect?: { seq: number; hash: string };
}

const secretsOf = (deps: Deps) =>
  deps.config.auditSigningKeys?.length ? deps.config.auditSigningKeys : [
    deps.config.auditSigningKey,
  ];

const metaMessage = (m: Omit<CheckpointMeta, "signature">) =>
  `meta|${m.count}|${m.last_seq}|${m.last_hash}`;

type Bad = NonNullable<VerifyResult["first_bad"]>;

/** An entry stored past the head means the head was moved back. */
async function entriesPastHead(kv: Deno.Kv, head: AuditHead): Promise<boolean> {
  const { head: now, next } = await readHeadAndEntry(kv, head.seq + 1);
  return next !== null && (now?.seq ?? 0) < head.seq + 1;
}

/** Where an incremental walk may start: the marker's checkpoint, still intact. */
async function startOf(deps: Deps): Promise<AuditCheckpoint | null> {
  const marker = await getVerifiedMarker(deps.kv);
  if (!marker) return null;
  const cp = await getCheckpoint(deps.kv, marker.seq);
  const entry = await getEntry(deps.kv, marker.seq);
  if (!cp || cp.hash !== marker.hash || cp.n !== marker.n || entry?.hash !== marker.hash) {
    return null;
  }
  return await checkpointProblem(secretsOf(deps), cp, entry.hash) ? null : cp;
}

/** The signed count against the checkpoints seen; the kept checkpoint against the chain. */
async function outerChecks(
  deps: Deps,
  head: AuditHead,
  walked: WalkResult,
  before: number,
  options: VerifyOptions,
): Promise<Bad | null> {
  const meta = (await getCheckpointMeta(deps.kv)).value;
  if (meta) {
    const { signature, ...body } = meta;
    if (!await signedByAny(secretsOf(deps), metaMessage(body), signature)) {
      return {
        seq: meta.last_seq,
        problem: "checkpoint_mismatch",
        detail: "the checkpoint count has an invalid signature",
      };
    }
    if (meta.last_seq > head.seq) {
      return {
        seq: meta.last_seq,
        problem: "truncated",
        detail: `a checkpoint was signed at seq ${meta.last_seq} but the chain ends at ${head.seq}`,
      };
    }
    const seen = before + walked.checkpoints;
    if (seen < meta.count) {
      return {
        seq: meta.last_seq,
        problem: "missing",
        detail: `${meta.count - seen} of ${meta.count} signed checkpoints were deleted`,
      };
    }
  }
  if (options.expect) {
    const { seq, hash } = options.expect;
    if (seq > head.seq) {
      return {
        seq,
        problem: "truncated",
        detail: `your checkpoint is at seq ${seq} but the chain ends at ${head.seq}`,
      };
    }
    // seq 0 is the chain's start, 64 zeros: the hash entry 1 links to (README, "Audit checkpoints")
    const entry = seq === 0 ? { hash: GENESIS_HEAD.hash } : await getEntry(deps.kv, seq);
    if (entry?.hash !== hash) {
      return {
        seq,
        problem: entry ? "hash_mismatch" : "missing",
        detail: `the chain's hash at seq ${seq} is not the one you kept (rewritten history)`,
      };
    }
  }
  return null;
}

/** Verifies the chain (incremental unless `full`), the checkpoint count and a kept checkpoint. */
export async function verifyAuditChain(
  deps: Deps,
  options: VerifyOptions = { full: true },
): Promise<VerifyResult> {
  const { kv } = deps;
  const head = (await readHead(kv)).value ?? GENESIS_HEAD;
  const from = options.full ? null : await startOf(deps);
  const checkpoints = from ? iterateCheckpointsAfter(kv, from.seq) : iterateCheckpoints(kv);
  try {
    const walked = await walk(kv, {
      start: from ? { seq: from.seq, hash: from.hash } : GENESIS_HEAD,
      head,
      checkpoints,
      secrets: secretsOf(deps),
    });
    const { lastCheckpoint, ...result } = walked;
    const out: VerifyResult = { ...result, head: { seq: head.seq, hash: head.hash } };
    if (from) out.from_seq = from.seq;
    if (out.ok && await entriesPastHead(kv, head)) {
      out.ok = false;
      out.first_bad = {
        seq: head.seq + 1,
        problem: "head_mismatch",
        detail: `entry ${head.seq + 1} exists but the head says ${head.seq}`,
      };
    }
    const outer = out.ok ? await outerChecks(deps, head, walked, from?.n ?? 0, options) : null;
    if (outer) {
      out.ok = false;
      out.first_bad = outer;
    }
    const confirmed = lastCheckpoint ?? from;
    if (out.ok && confirmed?.n !== undefined) {
      await setVerifiedMarker(kv, { seq: confirmed.seq, hash: confirmed.hash, n: confirmed.n });
    }
    return out;
  } finally {
    await checkpoints.return(undefined);
  }
}

export type CheckpointOutcome =
  | { ok: true; checkpoint: AuditCheckpoint; created: boolean }
  | { ok: false; first_bad: Bad }
  | { ok: true; checkpoint: null; created: false };

/**
 * Cron job: signs and records the current head with its ordinal and the
 * signed count, and logs it. It first checks the entries added since the last
 * checkpoint link up to it, so a tampered tail is never blessed. Idempotent.
 */
export async function checkpointAuditHead(deps: Deps): Promise<CheckpointOutcome> {
  const { kv, clock } = deps;
  const secrets = secretsOf(deps);
  const head = (await readHead(kv)).value;
  if (!head) return { ok: true, checkpoint: null, created: false };
  const latest = await latestCheckpoint(kv);
  if (latest && latest.seq === head.seq) return { ok: true, checkpoint: latest, created: false };
  let start: { seq: number; hash: string } = GENESIS_HEAD;
  if (latest && latest.seq > head.seq) {
    const detail = `a checkpoint was signed at seq ${latest.seq} but the head is ${head.seq}`;
    deps.log.error("audit chain broken; checkpoint not signed", { detail });
    return { ok: false, first_bad: { seq: latest.seq, problem: "truncated", detail } };
  }
  if (latest) {
    const entryHash = (await getEntry(kv, latest.seq))?.hash ?? "";
    const problem = await checkpointProblem(secrets, latest, entryHash);
    if (problem) {
      return {
        ok: false,
        first_bad: { seq: latest.seq, problem: "checkpoint_mismatch", detail: problem },
      };
    }
    start = latest;
  }
  const walked = await walk(kv, { start, head, secrets });
  if (!walked.ok) {
    deps.log.error("audit chain broken; checkpoint not signed", { first_bad: walked.first_bad });
    return { ok: false, first_bad: walked.first_bad! };
  }
  const metaRead = await getCheckpointMeta(kv);
  const n = (metaRead.value?.count ?? await countCheckpoints(kv)) + 1;
  const body = { seq: head.seq, hash: head.hash, at: clock.now(), n };
  const checkpoint: AuditCheckpoint = {
    ...body,
    signature: await signCheckpoint(secrets[0], body),
  };
  const metaBody = { count: n, last_seq: head.seq, last_hash: head.hash };
  const meta = { ...metaBody, signature: await hmacHex(secrets[0], metaMessage(metaBody)) };
  if (await addCheckpointWithMeta(kv, checkpoint, metaRead, meta)) {
    // A copy outside the KV: log shipping keeps what was signed, and when.
    deps.log.info("audit checkpoint", {
      checkpoint: `${checkpoint.seq}|${checkpoint.hash}|${checkpoint.at}|${n}`,
      hmac: checkpoint.signature,
    });
    return { ok: true, checkpoint, created: true };
  }
  // Another isolate checkpointed first.
  const other = await getCheckpoint(kv, head.seq);
  return other
    ? { ok: true, checkpoint: other, created: false }
    : { ok: true, checkpoint: null, created: false };
}
