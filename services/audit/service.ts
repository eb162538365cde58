/**
 * The tamper-evident audit log: THE way to write an audited change
 * (`commit`), a lone entry (`record`), and reading, verifying and exporting
 * the chain. How appends are serialized and batched: append.ts.
 */
import type { Deps } from "../deps.ts";
import type { CallContext } from "../../domain/actor.ts";
import type { AuditInput } from "./entry.ts";
import { chainSource, createAppender, enqueueCommit, enqueueRecord } from "./append.ts";
import { type AuditFilters, type AuditQuery, listAuditLog } from "./query.ts";
import { exportAuditLog, type ExportFormat, readableFilters } from "./export.ts";
import type { VerifyResult } from "./verify.ts";
import { checkpointAuditHead, type CheckpointOutcome } from "./checkpoints.ts";
import { verifyAuditChain, type VerifyOptions } from "./verify_chain.ts";
import { gateVerify, type VerifyGateOptions } from "./verify_gate.ts";
import { CursorSealer, type Page } from "../../kv/pagination.ts";
import type { AuditEntry } from "../../domain/audit_entry.ts";

export type { AuditInput } from "./entry.ts";
export type { AuditFilters, AuditQuery } from "./query.ts";
export type { ExportFormat } from "./export.ts";
export type { VerifyResult } from "./verify.ts";
export type { CheckpointOutcome } from "./checkpoints.ts";
export type { VerifyOptions } from "./verify_chain.ts";
export type { AuditEntry } from "../../domain/audit_entry.ts";
export { CHECKPOINT_TASK, checkpointAuditHead } from "./checkpoints.ts";

export interface AuditService {
  /**
   * `build` reads, adds checks and mutations to `op`, and returns the entries to
   * append; they join the chain IN THE SAME atomic commit. On a lost race `build`
   * runs again from scratch (no side effects outside `op`). Throwing aborts;
   * nothing is written. `build` must not call `record`/`commit` itself (it runs
   * while the append queue is held).
   *
   * `shared: true` declares that `build` checks (in `op`) every value it relies
   * on: then changes waiting together are built at once and share one commit
   * (group.ts). Without it the change is built after the one before it landed
   * and commits alone, so a read it does not check is still covered by the
   * audit head's check, as for any audited change.
   */
  commit<T>(
    ctx: CallContext,
    build: (op: Deno.AtomicOperation) => Promise<{ value: T; audit: AuditInput[] }>,
    options?: { shared?: boolean },
  ): Promise<T>;
  /** An entry with no other change (denials: 403, bad OTP, self-approval). */
  record(ctx: CallContext, input: AuditInput): Promise<void>;
  /** A page newest first; `cursor` is the previous page's `next_cursor` (same filters). */
  list(query: AuditQuery): Promise<Page<AuditEntry>>;
  /**
   * Recomputes the chain (streamed) and compares the signed checkpoints, their
   * count, the checkpoint cron's last good run and a checkpoint the caller
   * kept; whole by default (with the indexes), incremental with
   * `{ full: false }` (from the last confirmed checkpoint, answering what the
   * last full walk found wrong until one passes). One walk at a time in this
   * process (verify_gate.ts): the same verify waiting to start is shared, and
   * one that waits too long for the walk in progress throws `verify_busy`.
   */
  verify(options?: VerifyOptions): Promise<VerifyResult>;
  /** Records `audit.export` first, then streams the matching entries oldest first. */
  export(
    ctx: CallContext,
    filters: AuditFilters,
    format: ExportFormat,
  ): Promise<ReadableStream<Uint8Array>>;
  /** Same as the exported job function `checkpointAuditHead(deps)`. */
  checkpoint(): Promise<CheckpointOutcome>;
}

export interface AuditServiceOptions {
  /** how long a verify waits for the one walking the chain (verify_gate.ts) */
  verifyGate?: VerifyGateOptions;
}

export function createAuditService(deps: Deps, options: AuditServiceOptions = {}): AuditService {
  const append = createAppender(deps);
  const verify = gateVerify(deps, (o) => verifyAuditChain(deps, o), options.verifyGate);
  const chain = chainSource(deps.clock);
  const cursors = new CursorSealer(deps.config.auditSigningKey);

  const service: AuditService = {
    commit: (ctx, build, options) =>
      enqueueCommit(deps.kv, ctx, build, chain, options?.shared ?? false),
    record: (ctx, input) => enqueueRecord(deps.kv, append, ctx, input),

    list: (query) => listAuditLog(deps, cursors, query),
    verify: (options = { full: true }) => verify(options),
    async export(ctx, filters, format) {
      await service.record(ctx, {
        action: "audit.export",
        target: null,
        result: "ok",
        after: { format, filters: readableFilters(filters) },
      });
      return exportAuditLog(deps, filters, format);
    },
    checkpoint: () => checkpointAuditHead(deps),
  };
  return service;
}
