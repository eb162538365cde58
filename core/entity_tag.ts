/**
 * Entity tags (RFC 9110, 8.8.3) as the service makes and reads them (README "Caching and
 * ETags", "Inputs and headers"): the tag of a representation is its length and 64 bits of its
 * SHA-1 (native, from `node:crypto`), quoted. A read whose answer is more than the record (a
 * page, a time left, a role's actions) sends it weak (`W/"…"`); one whose answer is the record
 * as stored, byte for byte, sends it strong, and a write takes it back as `If-Match`.
 *
 * SHA-1 only has to tell versions of one record apart here, not resist a forger: a client can
 * only fool itself.
 */
import { createHash } from "node:crypto";

/** The opaque, quoted tag of `body` (strong: `"1k-4f2a9c0d1e3b5a7c"`). */
export function entityTag(body: string): string {
  const digest = createHash("sha1").update(body).digest("hex");
  return `"${body.length.toString(36)}-${digest.slice(0, 16)}"`;
}

/** One entity-tag: strong `"…"` or weak `W/"…"`. */
export const ENTITY_TAG = /^(W\/)?"[\x21\x23-\x7e\x80-\xff]*"$/;

/** The members of an `If-Match` / `If-None-Match` list (`*` stays `*`). */
export function tagsOf(header: string): string[] {
  return header.split(",").map((t) => t.trim()).filter((t) => t !== "");
}

/** The first member of the list that is neither `*` nor an entity-tag (the whole value if none). */
export function malformedTag(header: string): string | undefined {
  const tags = tagsOf(header);
  if (tags.length === 0) return header;
  return tags.find((t) => t !== "*" && !ENTITY_TAG.test(t));
}

/**
 * `If-Match` against the current tag (RFC 9110, 13.1.1): `*` holds for any current record,
 * otherwise a listed tag must match strongly (a weak tag never does).
 */
export function ifMatchHolds(header: string, current: string): boolean {
  return tagsOf(header).some((t) => t === "*" || (!t.startsWith("W/") && t === current));
}
