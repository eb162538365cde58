/**
 * Turning an audited change into a chain entry: masking, size guard,
 * canonical encoding and the SHA-256 link to the previous entry.
 */
import type { CallContext } from "../../domain/actor.ts";
import { maskString } from "../../core/log.ts";
import type { AuditEntry, AuditHead, AuditResult } from "../../domain/audit_entry.ts";
import { canonicalJson, hex, sha256Hex } from "../../core/encoding.ts";

export interface AuditInput {
  /** dotted: "refund.create", "auth.otp_failed", "user.update", "webhook.replay" */
  action: string;
  target: { type: string; id: string } | null;
  result: AuditResult;
  /** masked by the audit service */
  before?: unknown;
  after?: unknown;
  /** note, reason, or why it was denied */
  reason?: string | null;
  stripe?: { request_id?: string | null; idempotency_key?: string | null };
}

/** An entry before it is placed in the chain (no seq, time or hashes yet). */
export type PendingEntry = Omit<AuditEntry, "seq" | "id" | "at" | "at_iso" | "prev_hash" | "hash">;

/**
 * Before/after larger than this (JSON characters) are replaced by a marker
 * and a preview: with V8's encoding (up to ~2.3 bytes a character for arrays
 * of doubles) both together stay well under KV's 64 KiB value limit.
 */
export const SNAPSHOT_MAX_CHARS = 8192;
const PREVIEW_CHARS = 2048;
const REASON_MAX = 2000;
const FIELD_MAX = 256;

/**
 * Key names whose values never reach the log: log.ts's list and stricter
 * (TOTP secrets, card data, recovery codes, cookies).
 */
const SECRET_KEY =
  /(secret|token|password|authorization|otp|code_hash|api_key|signature|cvc|cvv|card_number|iban|private|credential|recovery|cookie)/i;

/** Like log.ts's `mask` (same string masking) with a stricter key list and no depth cut-off below 16. */
function strictMask(value: unknown, depth = 0): unknown {
  if (depth > 16) return "[deep]";
  if (typeof value === "string") return maskString(value);
  if (value instanceof Error) return { name: value.name, message: maskString(value.message) };
  if (Array.isArray(value)) return value.map((v) => strictMask(v, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null
        ? "****"
        : strictMask(v, depth + 1);
    }
    return out;
  }
  return value;
}

/** Masked, JSON-shaped (so it hashes the same after a KV round trip) and size-capped. */
export function snapshot(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  const json = JSON.stringify(
    strictMask(value),
    (_k, v) => typeof v === "bigint" ? v.toString() : v,
  );
  if (json === undefined) return null;
  if (json.length > SNAPSHOT_MAX_CHARS) {
    return { _truncated: true, original_chars: json.length, preview: json.slice(0, PREVIEW_CHARS) };
  }
  return JSON.parse(json);
}

function capped(s: string | null | undefined, max = FIELD_MAX): string | null {
  if (s === undefined || s === null) return null;
  return s.length > max ? s.slice(0, max) + "…[truncated]" : s;
}

/**
 * Text a client wrote (a header, a note): masked as logs are (README
 * "Security"), then capped, so the cap never cuts a secret to a tail the
 * masking no longer recognizes. A string with no secret is kept as it is.
 */
function maskedCapped(s: string | null | undefined, max = FIELD_MAX): string | null {
  if (s === undefined || s === null) return null;
  return capped(maskString(s), max);
}

export function pendingEntry(ctx: CallContext, input: AuditInput): PendingEntry {
  return {
    actor: {
      type: ctx.actor.type,
      id: capped(ctx.actor.id)!,
      role: ctx.actor.role,
    },
    action: capped(input.action)!,
    target: input.target
      ? { type: capped(input.target.type)!, id: capped(input.target.id)! }
      : null,
    before: snapshot(input.before),
    after: snapshot(input.after),
    reason: input.reason ? maskedCapped(input.reason, REASON_MAX) : null,
    result: input.result,
    second_factor: ctx.second_factor,
    request_id: capped(ctx.request?.request_id),
    ip: capped(ctx.request?.ip),
    user_agent: maskedCapped(ctx.request?.user_agent),
    idempotency_key: maskedCapped(ctx.idempotency_key),
    stripe_request_id: capped(input.stripe?.request_id),
    stripe_idempotency_key: capped(input.stripe?.idempotency_key),
  };
}

/** Upper bound of the stored size in bytes, for batching under KV's 800 KiB per commit. */
export function estimateBytes(entry: PendingEntry): number {
  return JSON.stringify(entry).length * 3 + 512;
}

const enc = new TextEncoder();

/** SHA-256 hex over the canonical encoding of the entry without its `hash`. */
export function entryHash(entry: Omit<AuditEntry, "hash"> | AuditEntry): Promise<string> {
  const { hash: _hash, ...rest } = entry as AuditEntry;
  return Promise.resolve(sha256Hex(canonicalJson(rest)));
}

/** Places pending entries after `head`: consecutive seqs, non-decreasing time, linked hashes. */
export async function chainEntries(
  head: AuditHead,
  pending: PendingEntry[],
  now: number,
  newId: () => string,
): Promise<AuditEntry[]> {
  const at = Math.max(now, head.at);
  const out: AuditEntry[] = [];
  let prev = head;
  for (const p of pending) {
    const base = {
      seq: prev.seq + 1,
      id: newId(),
      at,
      at_iso: new Date(at).toISOString(),
      ...p,
      prev_hash: prev.hash,
    };
    const entry: AuditEntry = { ...base, hash: await entryHash(base as AuditEntry) };
    out.push(entry);
    prev = { seq: entry.seq, hash: entry.hash, at };
  }
  return out;
}

export async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return hex(await crypto.subtle.sign("HMAC", key, enc.encode(message)));
}
