/**
 * List pages with sealed cursors. A client sees an opaque string: the KV
 * cursor plus the scope of the listing (which prefix, which filters), signed
 * with HMAC-SHA256. A tampered cursor, or one from another listing, is a 422
 * naming `query.cursor`, never a crash and never a peek into another prefix.
 */
import { getManyChunked } from "./atomic.ts";
import { AppError } from "../services/errors.ts";

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const enc = new TextEncoder();

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromB64url(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export class CursorSealer {
  #key: Promise<CryptoKey>;

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
    const body = enc.encode(JSON.stringify({ s: scope, c: kvCursor }));
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await this.#key, body));
    return `${b64url(body)}.${b64url(mac.slice(0, 16))}`;
  }

  /** The KV cursor inside `sealed`, if it was made by this service for `scope`. */
  async unseal(scope: string, sealed: string): Promise<string> {
    const bad = () =>
      new AppError(
        "validation_failed",
        "cursor is not valid for this listing; start again without it",
        {
          errors: [{
            path: "query.cursor",
            message: "invalid or foreign cursor; omit it to start from the first page",
          }],
        },
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
    if (parsed.s !== scope) throw bad();
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
  options: PageOptions,
): Promise<Page<T>> {
  const rows = await listRows<string>(kv, sealer, selector, options);
  const records = await getManyChunked<T>(kv, rows.entries.map((e) => recordKey(e.value)));
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
    afterLast = iter.cursor;
  }
  return { entries, next_cursor: null };
}
