/**
 * The same evidence file uploaded again (README, "Dispute workbench"): the
 * same admin sending the same file (bytes, name and type) to the same field
 * of a dispute within `UPLOAD_AGAIN_MS` (a second click, a retry, a burst)
 * gets the file the first upload made, never a second file at Stripe. The
 * first claims the upload in KV before calling Stripe; a request that finds
 * the claim waits for its file; an abandoned claim (its process died) is
 * taken over, and the Files API call carries a Stripe idempotency key built
 * from the same digest, so the takeover gets the file Stripe may have made.
 */
import { AppError } from "../../core/errors.ts";
import { hex, sha256Hex } from "../../core/encoding.ts";
import type { Clock } from "../../core/clock.ts";
import { type DisputeUpload, getUpload, putUpload } from "../../kv/disputes.ts";

/** How long an upload counts as the same one sent again. */
export const UPLOAD_AGAIN_MS = 10 * 60_000;
/** A claim older than this was abandoned: longer than a Files API call and its budget wait. */
const UPLOAD_LEASE_MS = 60_000;
/** How long a request waits for the same upload in flight before answering 409 (real time). */
const UPLOAD_WAIT_MS = 25_000;

export interface UploadIdentity {
  dispute: string;
  by: string;
  field: string;
  name: string;
  type: string;
  bytes: Uint8Array;
}

/** The digest naming one upload: who, which field, and the file. */
export async function uploadDigest(u: UploadIdentity): Promise<string> {
  const file = hex(await crypto.subtle.digest("SHA-256", u.bytes as Uint8Array<ArrayBuffer>));
  return sha256Hex(JSON.stringify([u.dispute, u.by, u.field, u.name, u.type, file]));
}

export type UploadClaim =
  | { kind: "ours"; entry: Deno.KvEntry<DisputeUpload> }
  | { kind: "uploaded"; fileId: string };

/** Takes the upload, or finds (or waits for) the file the same upload made. */
export async function claimUpload(
  kv: Deno.Kv,
  clock: Clock,
  u: { dispute: string; by: string; field: string; digest: string },
): Promise<UploadClaim> {
  const started = Date.now();
  for (;;) {
    const entry = await getUpload(kv, u.dispute, u.digest);
    const now = clock.now();
    const prior = entry.value && entry.value.expires_at > now ? entry.value : null;
    if (prior?.state === "uploaded" && prior.file_id) {
      return { kind: "uploaded", fileId: prior.file_id };
    }
    if (!prior || prior.lease_until <= now) {
      const mine: DisputeUpload = {
        by: u.by,
        field: u.field,
        state: "sending",
        file_id: null,
        lease_until: now + UPLOAD_LEASE_MS,
        expires_at: now + UPLOAD_AGAIN_MS,
      };
      const versionstamp = await putUpload(kv, entry, mine, UPLOAD_AGAIN_MS);
      if (versionstamp) {
        return { kind: "ours", entry: { key: entry.key, value: mine, versionstamp } };
      }
      continue;
    }
    if (Date.now() - started > UPLOAD_WAIT_MS) {
      throw new AppError(
        "conflict",
        `the same file is still being uploaded to ${u.field} by your earlier request: send it ` +
          "again in a moment, and it answers with that upload's file",
        { retryAfter: 2 },
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Records the file our claim uploaded, so the same upload sent again gets it. */
export async function noteUploaded(
  kv: Deno.Kv,
  clock: Clock,
  entry: Deno.KvEntry<DisputeUpload>,
  fileId: string,
): Promise<void> {
  const left = entry.value.expires_at - clock.now();
  if (left <= 0) return;
  await putUpload(kv, entry, { ...entry.value, state: "uploaded", file_id: fileId }, left);
}
