/**
 * The first admin the server's start-up made (README, "Deploying to Deno Deploy").
 *
 *   ["first_admin"] -> FirstAdminMarker
 *
 * Created with versionstamp null checked, in the commit that creates the account: of isolates
 * starting together on an empty store, one commits and the others, built again, find it. A new
 * code for the same account rewrites it, checked against the entry read.
 */
import { keys } from "./keys.ts";
import type { FirstAdminMarker } from "../domain/first_admin.ts";
import type { Enrollment } from "./enrollments.ts";

export function getFirstAdminMarker(kv: Deno.Kv): Promise<Deno.KvEntryMaybe<FirstAdminMarker>> {
  return kv.get<FirstAdminMarker>(keys.firstAdmin());
}

/** Writes the marker over the entry read (`versionstamp: null` when there was none). */
export function addSetFirstAdminMarker(
  op: Deno.AtomicOperation,
  read: Deno.KvEntryMaybe<FirstAdminMarker>,
  marker: FirstAdminMarker,
): void {
  op.check(read).set(keys.firstAdmin(), marker);
}

/**
 * A code issued again for the first admin over whatever its key held as read (an expired record
 * of the same code, or nothing): unlike a new code, its key may hold the old record.
 */
export function addReissuedEnrollment(
  op: Deno.AtomicOperation,
  read: Deno.KvEntryMaybe<Enrollment>,
  record: Enrollment,
  ttlMs: number,
): void {
  op.check(read).set(keys.enrollment(record.code_hash), record, {
    expireIn: ttlMs + 24 * 3600_000,
  });
}
