/**
 * List pages with sealed cursors. A client sees an opaque string: the KV
 * cursor plus the scope of the listing (which prefix, which filters), signed
 * with HMAC-SHA256. A tampered cursor, or one from another listing, is a 422
 * naming `query.cursor`, never a crash and never a peek into another prefix.
 */
import { AppError } from "../core/errors.ts";
import { b64url, fromB64url } from "../core/encoding.ts";

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const enc = new TextEncoder();

/** Sealed cursors remembered per sealer: sealing is deterministic, and a busy listing re-seals the same few. */
const SEAL_MEMO_SIZE = 1024;

export class CursorSealer {
  #key: Promise<CryptoKey>;
  #sealed = new Map<string, string>();

  constructor(secret: string) {
    this.#key = crypto.subtle.importKey(
      "raw",
      enc.encode(`cursor:${secret}`),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
  }

  async seal(scope: string, kvCursor: string): Promise<string> {
    const json = JSON.stringify({ s: scope, c: kvCursor });
    const known = this.#sealed.get(json);
    if (known !== undefined) return known;
    const body = enc.encode(json);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await this.#key, body));
    const sealed = `${b64url(body)}.${b64url(mac.slice(0, 16))}`;
    if (this.#sealed.size >= SEAL_MEMO_SIZE) this.#sealed.clear();
    this.#sealed.set(json, sealed);
    return sealed;
  }

  /** The KV cursor inside `sealed`, if it was made by this service for `scope`. */
  async unseal(scope: string, sealed: string): Promise<string> {
    const bad = (message = "invalid or foreign cursor; omit it to start from the first page") =>
      new AppError(
        "validation_failed",
        "cursor is not valid for this listing; start again without it",
        { errors: [{ path: "query.cursor", message }] },
      );
    const [bodyPart, macPart, extra] = sealed.split(".");
    if (!bodyPart || !macPart || extra !== undefined) throw bad();
    let body: Uint8Array<ArrayBuffer>, mac: Uint8Array<ArrayBuffer>;
    try {
      body = fromB64url(bodyPart);
      mac = fromB64url(macPart);
    } catch {
      throw bad();
    }
    const expected = new Uint8Array(await crypto.subtle.sign("HMAC", await this.#key, body)).slice(
      0,
      16,
    );
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) throw bad();
    const parsed = JSON.parse(new TextDecoder().decode(body)) as { s: string; c: string };
    if (parsed.s !== scope) {
      // Ours, for another listing or other filters: say what to send (README "API": lists).
      throw bad(
        "this cursor belongs to another listing, or to this one with other filters: send it " +
          "with the same path and filters as the request that returned it (only limit may " +
          "change), or omit it to start from the first page",
      );
    }
    return parsed.c;
  }
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export interface PageOptions {
  limit: number;
  cursor?: string;
  /** newest first (default true: ULID keys make that "most recent first") */
  reverse?: boolean;
  /** what the listing is (prefix + filters); a cursor only works for the same scope */
  scope: string;
}

export interface IndexPageOptions extends PageOptions {
  /** read the records by range where they lie together (`RecordLocality`) */
  locality?: { of: RecordLocality; shape: string };
}

/**
 * One page of records stored directly under `selector`.
 * Fetches `limit + 1` to know whether another page exists, so the last page
 * says `next_cursor: null` instead of sending the client to an empty one.
 */
export async function listPage<T>(
  kv: Deno.Kv,
  sealer: CursorSealer,
  selector: Deno.KvListSelector,
  options: PageOptions,
): Promise<Page<T>> {
  const rows = await listRows<T>(kv, sealer, selector, options);
  return { data: rows.entries.map((e) => e.value), next_cursor: rows.next_cursor };
}

/**
 * One page of an index (`[..., id] -> id`), the records loaded from
 * `recordKey(id)`. An index entry whose record is gone is skipped.
 */
export async function listIndexPage<T>(
  kv: Deno.Kv,
  sealer: CursorSealer,
  selector: Deno.KvListSelector,
  recordKey: (id: string) => Deno.KvKey,
  options: IndexPageOptions,
): Promise<Page<T>> {
  const rows = await listRows<string>(kv, sealer, selector, options);
  const ids = rows.entries.map((e) => e.value);
  const records = options.locality
    ? await options.locality.of.read<T>(kv, ids, recordKey, options.locality.shape)
    : await getManyParallel<T>(kv, ids.map(recordKey));
  return {
    data: records.filter((r) => r.value !== null).map((r) => r.value as T),
    next_cursor: rows.next_cursor,
  };
}

async function listRows<T>(
  kv: Deno.Kv,
  sealer: CursorSealer,
  selector: Deno.KvListSelector,
  options: PageOptions,
): Promise<{ entries: Deno.KvEntry<T>[]; next_cursor: string | null }> {
  const cursor = options.cursor ? await sealer.unseal(options.scope, options.cursor) : undefined;
  const iter = kv.list<T>(selector, {
    limit: options.limit + 1,
    cursor,
    reverse: options.reverse ?? true,
  });
  const entries: Deno.KvEntry<T>[] = [];
  let afterLast: string | null = null;
  for await (const entry of iter) {
    if (entries.length === options.limit) {
      return { entries, next_cursor: await sealer.seal(options.scope, afterLast!) };
    }
    entries.push(entry);
    // encoding a cursor costs a KV op: only the one after the page's last row is handed out
    if (entries.length === options.limit) afterLast = iter.cursor;
  }
  return { entries, next_cursor: null };
}

/**
 * One page of a filtered scan, newest first: walks `prefix`, keeps what
 * `pick` returns (null skips the row), and answers with `limit` rows, or with
 * what it has once `budget` rows were read (the cursor then continues the
 * scan), so a rare filter never reads the whole range in one request.
 */
export async function scanPage<Row, T>(
  kv: Deno.Kv,
  sealer: CursorSealer,
  prefix: Deno.KvKey,
  options: { scope: string; limit: number; cursor?: string; budget: number },
  pick: (entry: Deno.KvEntry<Row>) => T | null | Promise<T | null>,
): Promise<Page<T>> {
  const { scope, limit } = options;
  const start = options.cursor ? await sealer.unseal(scope, options.cursor) : undefined;
  const iter = kv.list<Row>({ prefix }, {
    cursor: start,
    reverse: true,
    batchSize: Math.min(500, limit * 2 + 1),
  });
  const data: T[] = [];
  let scanned = 0;
  for await (const entry of iter) {
    scanned++;
    const row = await pick(entry);
    if (row !== null) {
      data.push(row);
      if (data.length === limit) {
        const after = iter.cursor;
        const more = await iter.next();
        return { data, next_cursor: more.done ? null : await sealer.seal(scope, after) };
      }
    }
    if (scanned >= options.budget) {
      return { data, next_cursor: await sealer.seal(scope, iter.cursor) };
    }
  }
  return { data, next_cursor: null };
}

/** `getMany` in batches of 10 (KV's limit), the batches in flight together. */
async function getManyParallel<T>(
  kv: Deno.Kv,
  keys: Deno.KvKey[],
): Promise<Deno.KvEntryMaybe<T>[]> {
  if (keys.length <= 10) return await kv.getMany<T[]>(keys);
  const batches: Promise<Deno.KvEntryMaybe<T>[]>[] = [];
  for (let i = 0; i < keys.length; i += 10) batches.push(kv.getMany<T[]>(keys.slice(i, i + 10)));
  return (await Promise.all(batches)).flat();
}

/** Rows a range read may pass over beyond the page's own (records interleaved from elsewhere). */
const RANGE_SLACK = 8;
/** Below this share of a page found by range, a listing shape reads by key… */
const MIN_FOUND_SHARE = 0.5;
/** …and tries the range again once in this many pages. */
const RETRY_RANGE_EVERY = 16;

/**
 * Where a listing's records lie relative to each other, learnt as it runs.
 *
 * Record ids are ULIDs minted when the service first saw the object, so the
 * records behind one page of a time-ordered index mostly sit side by side: one
 * range read from the page's lowest to its highest id, bounded to the page
 * size plus `RANGE_SLACK`, finds them for about a third of what `getMany`
 * costs (there every key is a read of its own). Ids the range misses are read
 * by key, so the result never depends on the guess. A listing shape whose
 * pages come out scattered (say one customer's payments among everyone's)
 * goes back to reading by key, and tries the range again now and then.
 */
export class RecordLocality {
  #shapes = new Map<string, { found: number; pages: number }>();

  /** The records of `ids` (a missing one is `value: null`), in the order of `ids`. */
  async read<T>(
    kv: Deno.Kv,
    ids: string[],
    recordKey: (id: string) => Deno.KvKey,
    shape: string,
  ): Promise<Deno.KvEntryMaybe<T>[]> {
    let seen = this.#shapes.get(shape);
    if (!seen) this.#shapes.set(shape, seen = { found: 1, pages: 0 });
    seen.pages++;
    if (ids.length < 2 || (seen.found < MIN_FOUND_SHARE && seen.pages % RETRY_RANGE_EVERY !== 0)) {
      return await getManyParallel<T>(kv, ids.map(recordKey));
    }
    const found = await readRange<T>(kv, ids, recordKey);
    // a moving average: one odd page does not switch a shape over
    seen.found = 0.75 * seen.found + 0.25 * (found.size / ids.length);
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0) {
      const rest = await getManyParallel<T>(kv, missing.map(recordKey));
      rest.forEach((entry, i) => found.set(missing[i], entry));
    }
    return ids.map((id) => found.get(id)!);
  }
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** The records of `ids` found in one bounded range read, by id. */
async function readRange<T>(
  kv: Deno.Kv,
  ids: string[],
  recordKey: (id: string) => Deno.KvKey,
): Promise<Map<string, Deno.KvEntryMaybe<T>>> {
  let low = ids[0], high = ids[0];
  for (const id of ids) {
    if (id < low) low = id;
    if (id > high) high = id;
  }
  // JS orders surrogate pairs below U+E000..U+FFFF, KV (UTF-8) above: no range then
  if (SURROGATE.test(low) || SURROGATE.test(high)) return new Map();
  const first = recordKey(low);
  const depth = first.length;
  const wanted = new Set(ids);
  const limit = ids.length + RANGE_SLACK;
  const found = new Map<string, Deno.KvEntryMaybe<T>>();
  // high + "\0" is the first key after high's record: the range ends just past it
  const rows = kv.list<T>({ start: first, end: recordKey(high + "\0") }, {
    limit,
    batchSize: limit,
  });
  for await (const entry of rows) {
    const id = entry.key[depth - 1];
    if (
      entry.key.length === depth && typeof id === "string" && wanted.has(id) &&
      sameParent(entry.key, first)
    ) found.set(id, entry);
  }
  return found;
}

function sameParent(a: Deno.KvKey, b: Deno.KvKey): boolean {
  for (let i = 0; i < b.length - 1; i++) if (a[i] !== b[i]) return false;
  return true;
}
