/**
 * Signing checkpoints of the chain's head (README, "Audit checkpoints"):
 *
 *   - each checkpoint carries its ordinal and a signed count is kept with it,
 *     so deleting checkpoints shows;
 *   - each checkpoint is also written as a log line, so log shipping keeps a
 *     signed copy outside the KV;
 *   - the cron that signs them (`CHECKPOINT_TASK`) records its runs, which a
 *     verify reads back (verify_chain.ts).
 */
import type { Deps } from "../deps.ts";
import { hmacHex } from "./entry.ts";
import { verbatim } from "../../core/log.ts";
import { getCheckpoint, getEntry, latestCheckpoint, readHead } from "../../kv/audit.ts";
import { type AuditCheckpoint, GENESIS_HEAD } from "../../domain/audit_entry.ts";
import {
  addCheckpointWithMeta,
  type CheckpointMeta,
  countCheckpoints,
  getCheckpointMeta,
} from "../../kv/audit_meta.ts";
import { checkpointProblem, signCheckpoint, type VerifyResult, walk } from "./verify.ts";

/** The periodic task that runs `checkpointAuditHead` (services/background.ts). */
export const CHECKPOINT_TASK = "audit-checkpoint";

export const secretsOf = (deps: Deps): string[] =>
  deps.config.auditSigningKeys?.length ? deps.config.auditSigningKeys : [
    deps.config.auditSigningKey,
  ];

export const metaMessage = (m: Omit<CheckpointMeta, "signature">): string =>
  `meta|${m.count}|${m.last_seq}|${m.last_hash}`;

type Bad = NonNullable<VerifyResult["first_bad"]>;

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
    // A copy outside the KV: log shipping keeps what was signed, and when, exactly as signed
    // (verbatim: its `at` may pass the Luhn check card masking looks for).
    deps.log.info("audit checkpoint", {
      checkpoint: verbatim(`${checkpoint.seq}|${checkpoint.hash}|${checkpoint.at}|${n}`),
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
