/**
 * The store's key layout, stamped in the store. A release that moves keys
 * raises `STORE_LAYOUT`; every process (server, admin CLI, backfill) checks
 * the stamp when it opens KV and refuses a store laid out otherwise, rather
 * than read half of it (a customer page without its ledger, say) and write
 * the rest in the new places.
 *
 * Layouts: 1 (no stamp): customer ledger, balances (a key each) and
 * aggregates under top-level prefixes, an index per customer and status, an
 * expiry index of webhook events. 2: a customer's keys under
 * `["customers", id, …]`, its balances kept in its counters record, neither
 * of those indexes.
 */
import { keys } from "./keys.ts";
import { commitChecked } from "./atomic.ts";
import { isKvConnectUrl } from "./open.ts";

export const STORE_LAYOUT = 2;

export class StoreLayoutError extends Error {}

/**
 * The error Deno throws reading a value in a V8 serializer version newer than
 * its own (kv/runtime_stamp.ts): Deno 2.5 reading what Deno 2.9 wrote.
 */
export function isUnreadableValue(error: unknown): boolean {
  return error instanceof RangeError && /could not deserialize value/i.test(error.message);
}

/**
 * Where to start afresh instead of on the store at `kvPath` (KV_PATH, undefined on Deno Deploy):
 * another KV_PATH, or for a local file, that file moved away (named as set, not the default's).
 */
export function newStoreHint(kvPath: string | undefined): string {
  const local = kvPath !== undefined && !kvPath.startsWith(":") && !isKvConnectUrl(kvPath);
  return local ? `another KV_PATH, or move ${kvPath} away` : "another KV_PATH";
}

/**
 * Stamps an empty store; passes a store of this layout; refuses any other, saying to start on
 * a new store instead of the one at `kvPath` (the KV_PATH it was opened with).
 */
export async function checkStoreLayout(kv: Deno.Kv, kvPath?: string): Promise<void> {
  const readStamp = () =>
    kv.get<number>(keys.storeLayout()).catch((error) => {
      if (!isUnreadableValue(error)) throw error;
      throw new StoreLayoutError(
        `this KV store was written by a newer Deno than this one (${Deno.version.deno}), whose ` +
          "values it cannot read; nothing was written. Run this with the Deno the server runs.",
      );
    });
  // a store of this layout is passed with reads alone: nothing to commit (a verb that only
  // reads, `admin list`, runs on a store it may not write)
  if ((await readStamp()).value === STORE_LAYOUT) return;
  await commitChecked(kv, async (op) => {
    const stamp = await readStamp();
    if (stamp.value === STORE_LAYOUT) return;
    if (stamp.value !== null) throw refused(stamp.value, kvPath);
    if (!await isEmpty(kv)) {
      // the stamp and the listing are two reads: another process starting at the same time may
      // have stamped the store (and written to it) between them; only a store still without a
      // stamp is an earlier layout
      const again = await kv.get<number>(keys.storeLayout());
      if (again.value === STORE_LAYOUT) return;
      throw refused(again.value ?? 1, kvPath);
    }
    // Empty: the first process to start stamps it (another may be doing the same).
    op.check(stamp).set(keys.storeLayout(), STORE_LAYOUT);
  }, { attempts: 3, what: "the store's layout stamp" });
}

/** No entry but the runtime stamp (kv/runtime_stamp.ts), which is checked and written first. */
export async function isEmpty(kv: Deno.Kv): Promise<boolean> {
  const runtime = JSON.stringify(keys.storeRuntime());
  for await (const e of kv.list({ prefix: [] }, { limit: 2 })) {
    if (JSON.stringify(e.key) !== runtime) return false;
  }
  return true;
}

function refused(layout: number, kvPath: string | undefined): StoreLayoutError {
  const newer = layout > STORE_LAYOUT;
  return new StoreLayoutError(
    `this KV store was written by ${newer ? "a newer" : "an earlier"} version of the service ` +
      `(key layout ${layout}; this version reads layout ${STORE_LAYOUT}) and is not read, so ` +
      "that nothing is shown or written in the wrong place. " +
      (newer
        ? "Run the version that wrote it."
        : `Start on a new store (${newStoreHint(kvPath)}) and run ` +
          "`deno task backfill --since 30d` to rebuild the account's picture from Stripe; " +
          "admins and the audit log of the old store are not carried over."),
  );
}
