/**
 * What makes deleting checkpoints or truncating the chain visible:
 *
 *   ["audit_checkpoint_meta"]  -> CheckpointMeta (signed count and last checkpoint)
 *   ["audit_verified_marker"]  -> VerifiedMarker (where an incremental verify starts)
 *   ["audit_verify_failure"]   -> KnownFailure (what the last full verify found wrong)
 *
 * and, read with them, the checkpoint cron's last good run (metrics_counts.ts).
 */
import { keys } from "./keys.ts";
import type { AuditCheckpoint } from "../domain/audit_entry.ts";
import { type CronRun, lastGoodRun } from "./metrics_counts.ts";

export interface CheckpointMeta {
  count: number;
  last_seq: number;
  last_hash: string;
  /** hex HMAC-SHA256 over `meta|count|last_seq|last_hash` with the audit signing key */
  signature: string;
}

export interface VerifiedMarker {
  seq: number;
  hash: string;
  /** the checkpoint's ordinal */
  n: number;
}

export function getCheckpointMeta(kv: Deno.Kv): Promise<Deno.KvEntryMaybe<CheckpointMeta>> {
  return kv.get<CheckpointMeta>(keys.auditCheckpointMeta());
}

/** The checkpoint and the new count in one commit; false when another isolate got there first. */
export async function addCheckpointWithMeta(
  kv: Deno.Kv,
  cp: AuditCheckpoint,
  metaRead: Deno.KvEntryMaybe<CheckpointMeta>,
  meta: CheckpointMeta,
): Promise<boolean> {
  const key = keys.auditCheckpoint(cp.seq);
  const res = await kv.atomic()
    .check({ key, versionstamp: null })
    .check(metaRead)
    .set(key, cp)
    .set(keys.auditCheckpointMeta(), meta)
    .commit();
  return res.ok;
}

/** Checkpoints stored (keys only), for stores made before the count was kept. */
export async function countCheckpoints(kv: Deno.Kv): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: keys.auditCheckpointsPrefix() })) n++;
  return n;
}

/** Checkpoints after `seq`, in seq order, streamed. */
export async function* iterateCheckpointsAfter(
  kv: Deno.Kv,
  seq: number,
): AsyncGenerator<AuditCheckpoint> {
  const iter = kv.list<AuditCheckpoint>({
    start: keys.auditCheckpoint(seq + 1),
    end: [...keys.auditCheckpointsPrefix(), Number.MAX_SAFE_INTEGER],
  }, { batchSize: 200 });
  for await (const row of iter) yield row.value;
}

export async function getVerifiedMarker(kv: Deno.Kv): Promise<VerifiedMarker | null> {
  return (await kv.get<VerifiedMarker>(keys.auditVerifiedMarker())).value;
}

export async function setVerifiedMarker(kv: Deno.Kv, marker: VerifiedMarker): Promise<void> {
  await kv.set(keys.auditVerifiedMarker(), marker);
}

/** What a full verify found wrong, kept for the plain verify until a full one passes. */
export interface KnownFailure {
  first_bad: { seq: number; problem: string; detail: string };
  /** ms since the epoch */
  found_at: number;
}

export interface VerifyState {
  meta: CheckpointMeta | null;
  marker: VerifiedMarker | null;
  failure: KnownFailure | null;
  /** the checkpoint cron's last good run (README, "Audit checkpoints") */
  checkpointRun: CronRun | null;
}

/**
 * The signed count, the marker, the known failure and the last good run of
 * `checkpointTask`, in one read: made before the head is read, so every
 * checkpoint they speak of is in what a walk from that head reads.
 */
export async function getVerifyState(kv: Deno.Kv, checkpointTask: string): Promise<VerifyState> {
  const [meta, marker, failure, good, last] = await kv.getMany<
    [CheckpointMeta, VerifiedMarker, KnownFailure, CronRun, CronRun]
  >([
    keys.auditCheckpointMeta(),
    keys.auditVerifiedMarker(),
    keys.auditVerifyFailure(),
    keys.cronRunByOutcome(checkpointTask, "ok"),
    keys.cronRun(checkpointTask),
  ]);
  return {
    meta: meta.value,
    marker: marker.value,
    failure: failure.value,
    checkpointRun: lastGoodRun(good.value, last.value),
  };
}

export async function setKnownFailure(kv: Deno.Kv, failure: KnownFailure | null): Promise<void> {
  if (failure) await kv.set(keys.auditVerifyFailure(), failure);
  else await kv.delete(keys.auditVerifyFailure());
}
