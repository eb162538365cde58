/**
 * Webhook event payloads: the verified event, re-serialized as compact JSON
 * (not the exact signed bytes; the signature was checked at intake and is
 * not kept), stored deflated (raw DEFLATE, `payload_encoding:
 * "deflate-raw"`): Stripe's JSON shrinks three to five times, and every
 * event's record is written on the intake's hot path, where a value over
 * about 1 KB costs KV's file a page of its own. Up to `INLINE_PAYLOAD_BYTES`
 * deflated, the payload rides in the record itself (`payload_z`: one KV write
 * fewer on every event, and a record far below KV's 64 KiB). Larger ones (the
 * intake accepts up to 512 KiB) are stored as chunks of at most 60 000 bytes
 * under `["webhook_event_payloads", evt, n]`, and the record keeps
 * `payload_chunks`. Records written before the payload was deflated (JSON in
 * `payload`, or chunks of UTF-8 without `payload_encoding`) read as before.
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { keys } from "./keys.ts";
import type { WebhookEventRecord } from "../domain/webhook_event.ts";

/** Payloads up to this size (deflated) are kept in the record (a listing reads a few KiB a row at most). */
export const INLINE_PAYLOAD_BYTES = 8 * 1024;
const CHUNK_BYTES = 60_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How the event's JSON is stored: deflated, inline or as chunks (never empty) when too large. */
export interface StoredPayload {
  /** the JSON's UTF-8 length */
  bytes: number;
  inline: Uint8Array | null;
  chunks: Uint8Array[];
}

export function encodePayload(json: string): StoredPayload {
  const utf8 = encoder.encode(json);
  // Copied out of zlib's Buffer: a Buffer may view a larger pooled ArrayBuffer, all of which
  // KV would store.
  const deflated = new Uint8Array(deflateRawSync(utf8));
  if (deflated.length <= INLINE_PAYLOAD_BYTES) {
    return { bytes: utf8.length, inline: deflated, chunks: [] };
  }
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < deflated.length; i += CHUNK_BYTES) {
    chunks.push(deflated.slice(i, i + CHUNK_BYTES));
  }
  return { bytes: utf8.length, inline: null, chunks };
}

/** The record's payload fields for `stored`. */
export function payloadFields(
  stored: StoredPayload,
): Pick<
  WebhookEventRecord,
  "payload_bytes" | "payload_chunks" | "payload_z" | "payload_encoding"
> {
  const fields = { payload_bytes: stored.bytes, payload_encoding: "deflate-raw" as const };
  return stored.inline === null
    ? { ...fields, payload_chunks: stored.chunks.length }
    : { ...fields, payload_chunks: 0, payload_z: stored.inline };
}

/** The stored event JSON, or null when the record (or a chunk) is gone. */
export async function readPayload(kv: Deno.Kv, record: WebhookEventRecord): Promise<string | null> {
  if (record.payload !== undefined) return record.payload; // stored before deflating
  if (record.payload_z !== undefined) return decoder.decode(inflateRawSync(record.payload_z));
  const parts: Uint8Array[] = [];
  const iter = kv.list<Uint8Array>({ prefix: keys.webhookEventPayloadPrefix(record.id) });
  for await (const entry of iter) parts.push(entry.value);
  if (parts.length !== record.payload_chunks) return null;
  const total = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    total.set(p, at);
    at += p.length;
  }
  return decoder.decode(record.payload_encoding === "deflate-raw" ? inflateRawSync(total) : total);
}
