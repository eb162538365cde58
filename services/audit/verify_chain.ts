/**
 * `verify` (README, "Audit checkpoints"): the chain walked and compared with
 * the signed checkpoints, then what else the store says about it:
 *
 *   - the signed count of checkpoints, so deleting some shows;
 *   - the checkpoint cron's last good run: an entry written well before it
 *     that no remaining checkpoint covers means signed ones were deleted;
 *   - on `full`, the filter indexes against the entries (verify_indexes.ts),
 *     and what it finds wrong is kept: the plain verify answers it, with when
 *     it was found, until a full verify passes;
 *   - a checkpoint the auditor kept (`expect_seq`, `expect_hash`): the chain
 *     must still reach it. Only this one is beyond an attacker who can
 *     rewrite every record the store keeps.
 *
 * The plain verify is incremental: it starts at the last checkpoint a verify
 * confirmed. With a kept checkpoint it is not: the auditor's check recomputes
 * every entry from the chain's start up to it (README, "Audit checkpoints":
 * Check it), since an entry below the confirmed checkpoint may have been
 * changed or deleted since (only the full walk would see it otherwise).
 */
import type { Deps } from "../deps.ts";
import {
  getCheckpoint,
  getEntry,
  iterateCheckpoints,
  readHead,
  readHeadAndEntry,
} from "../../kv/audit.ts";
import { type AuditCheckpoint, GENESIS_HEAD } from "../../domain/audit_entry.ts";
import {
  type CheckpointMeta,
  getVerifyState,
  iterateCheckpointsAfter,
  type KnownFailure,
  setKnownFailure,
  setVerifiedMarker,
  type VerifiedMarker,
} from "../../kv/audit_meta.ts";
import type { CronRun } from "../../kv/metrics_counts.ts";
import {
  type AuditHead,
  checkpointProblem,
  signedByAny,
  type VerifyProblem,
  type VerifyResult,
  walk,
  type WalkResult,
} from "./verify.ts";
import { CHECKPOINT_TASK, metaMessage, secretsOf } from "./checkpoints.ts";
import { IndexCheck } from "./verify_indexes.ts";

export interface VerifyOptions {
  /** every entry from the start, and the indexes (default: from the last confirmed checkpoint) */
  full?: boolean;
  /**
   * a checkpoint the auditor kept: the chain must still reach it with that hash, every entry up
   * to it recomputed from the start (the walk is then never incremental)
   */
  expect?: { seq: number; hash: string };
}

type Bad = NonNullable<VerifyResult["first_bad"]>;

/**
 * How long before a cron run an entry must have been written for that run to
 * have signed it: an append reads the clock before its commit lands, and
 * isolates' clocks differ a little.
 */
export const CRON_RUN_MARGIN_MS = 60_000;

const iso = (ms: number) => new Date(ms).toISOString();

/** An entry stored past the head means the head was moved back. */
async function entriesPastHead(kv: Deno.Kv, head: AuditHead): Promise<boolean> {
  const { head: now, next } = await readHeadAndEntry(kv, head.seq + 1);
  return next !== null && (now?.seq ?? 0) < head.seq + 1;
}

/** Where an incremental walk may start: the marker's checkpoint, still intact. */
async function startOf(deps: Deps, marker: VerifiedMarker | null): Promise<AuditCheckpoint | null> {
  if (!marker) return null;
  const cp = await getCheckpoint(deps.kv, marker.seq);
  const entry = await getEntry(deps.kv, marker.seq);
  if (!cp || cp.hash !== marker.hash || cp.n !== marker.n || entry?.hash !== marker.hash) {
    return null;
  }
  return await checkpointProblem(secretsOf(deps), cp, entry.hash) ? null : cp;
}

/** The signed count against the checkpoints seen. */
async function countCheck(
  deps: Deps,
  meta: CheckpointMeta | null,
  head: AuditHead,
  seen: number,
): Promise<Bad | null> {
  if (!meta) return null;
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
  if (seen < meta.count) {
    return {
      seq: meta.last_seq,
      problem: "missing",
      detail: `${meta.count - seen} of ${meta.count} signed checkpoints were deleted`,
    };
  }
  return null;
}

/**
 * The checkpoint cron's last good run against the first entry no checkpoint
 * covers: written well before that run, it would have been signed.
 */
function cronCheck(run: CronRun | null, uncovered: WalkResult["uncovered"]): Bad | null {
  if (!uncovered) return null;
  if (!run || uncovered.at > run.started_at - CRON_RUN_MARGIN_MS) return null;
  return {
    seq: uncovered.seq,
    problem: "missing",
    detail: `the ${CHECKPOINT_TASK} cron last ran well at ${iso(run.started_at)}, after entry ` +
      `${uncovered.seq} was written (${iso(uncovered.at)}), yet no signed checkpoint covers ` +
      "it: signed checkpoints were deleted",
  };
}

/** The kept checkpoint against the chain. */
async function expectCheck(
  deps: Deps,
  head: AuditHead,
  expect: { seq: number; hash: string },
): Promise<Bad | null> {
  const { seq, hash } = expect;
  if (seq > head.seq) {
    return {
      seq,
      problem: "truncated",
      detail: `your checkpoint is at seq ${seq} but the chain ends at ${head.seq}`,
    };
  }
  // seq 0 is the chain's start, 64 zeros: the hash entry 1 links to (README, "Audit checkpoints")
  const entry = seq === 0 ? { hash: GENESIS_HEAD.hash } : await getEntry(deps.kv, seq);
  if (entry?.hash === hash) return null;
  return {
    seq,
    problem: entry ? "hash_mismatch" : "missing",
    detail: `the chain's hash at seq ${seq} is not the one you kept (rewritten history)`,
  };
}

/**
 * What a full walk found wrong in the store itself, kept for the plain verify
 * (when it was first found, while it stays the same); gone once one passes.
 * A caller's kept checkpoint is checked after: a typo in it is not kept.
 */
async function keepFailure(deps: Deps, kept: KnownFailure | null, bad: Bad | null) {
  const same = kept && bad && kept.first_bad.seq === bad.seq &&
    kept.first_bad.problem === bad.problem && kept.first_bad.detail === bad.detail;
  if (same || (!kept && !bad)) return;
  await setKnownFailure(deps.kv, bad ? { first_bad: bad, found_at: deps.clock.now() } : null);
}

/**
 * Verifies the chain (incremental unless `full`), the checkpoint count, the
 * cron's record, on `full` the indexes, and a kept checkpoint.
 */
export async function verifyAuditChain(
  deps: Deps,
  options: VerifyOptions = { full: true },
): Promise<VerifyResult> {
  const { kv } = deps;
  // Before the head: every checkpoint the signed count or the cron's last good run speaks of is
  // then in what the walk reads (one signed meanwhile is not taken for a deleted one).
  const state = await getVerifyState(kv, CHECKPOINT_TASK);
  const head = (await readHead(kv)).value ?? GENESIS_HEAD;
  // a kept checkpoint is checked against the chain recomputed from its start, never from a marker
  const from = options.full || options.expect ? null : await startOf(deps, state.marker);
  const checkpoints = from ? iterateCheckpointsAfter(kv, from.seq) : iterateCheckpoints(kv);
  const indexes = options.full ? new IndexCheck(kv) : undefined;
  try {
    const walked = await walk(kv, {
      start: from ? { seq: from.seq, hash: from.hash } : GENESIS_HEAD,
      head,
      checkpoints,
      secrets: secretsOf(deps),
      indexes,
    });
    const { lastCheckpoint, uncovered, ...result } = walked;
    const out: VerifyResult = { ...result, head: { seq: head.seq, hash: head.hash } };
    if (from) out.from_seq = from.seq;
    const fail = (bad: Bad | null) => {
      if (!bad) return;
      out.ok = false;
      out.first_bad = bad;
    };
    if (out.ok && await entriesPastHead(kv, head)) {
      fail({
        seq: head.seq + 1,
        problem: "head_mismatch",
        detail: `entry ${head.seq + 1} exists but the head says ${head.seq}`,
      });
    }
    if (out.ok) {
      fail(await countCheck(deps, state.meta, head, (from?.n ?? 0) + walked.checkpoints));
    }
    if (out.ok) fail(cronCheck(state.checkpointRun, uncovered));
    const theirs = out.ok && options.expect ? await expectCheck(deps, head, options.expect) : null;
    // Rows no entry accounts for (left by deleted entries, or made by hand), before the
    // entry the walk stopped at if it did; what the chain itself shows is named first.
    const extra = indexes && (out.ok || out.first_bad?.problem === "index_mismatch")
      ? await indexes.extraRows(head.seq, out.first_bad?.seq)
      : null;
    const extraBad: Bad | null = extra && { ...extra, problem: "index_mismatch" };
    if (options.full) await keepFailure(deps, state.failure, extraBad ?? out.first_bad ?? null);
    if (theirs) fail(theirs);
    else if (extraBad) {
      fail(extraBad);
      out.entries = Math.min(out.entries, Math.max(0, extraBad.seq - 1));
    }
    if (!options.full && state.failure) {
      const { first_bad, found_at } = state.failure;
      fail({ ...first_bad, problem: first_bad.problem as VerifyProblem, found_at: iso(found_at) });
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
