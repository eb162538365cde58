/**
 * An entry of the append-only, hash-chained audit log, the chain's head and
 * its signed checkpoints. The chain starts from `GENESIS_HASH`.
 */
import type { ActorType } from "./actor.ts";

export const GENESIS_HASH = "0".repeat(64);

export type AuditResult = "ok" | "denied" | "failed";

export interface AuditEntry {
  seq: number;
  id: string;
  /** ms since epoch; never earlier than the previous entry's */
  at: number;
  at_iso: string;
  actor: { type: ActorType; id: string; role: string | null };
  action: string;
  target: { type: string; id: string } | null;
  before: unknown;
  after: unknown;
  reason: string | null;
  result: AuditResult;
  second_factor: boolean;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  /** the client's `Idempotency-Key` */
  idempotency_key: string | null;
  stripe_request_id: string | null;
  stripe_idempotency_key: string | null;
  prev_hash: string;
  hash: string;
}

export interface AuditHead {
  seq: number;
  hash: string;
  at: number;
}

export interface AuditCheckpoint {
  seq: number;
  hash: string;
  at: number;
  /** hex HMAC-SHA256 over `seq|hash|at` (then `|n` when set) with the audit signing key */
  signature: string;
  /** its ordinal (1, 2, …): with the signed count, a deleted checkpoint shows */
  n?: number;
}

export const GENESIS_HEAD: AuditHead = { seq: 0, hash: GENESIS_HASH, at: 0 };
