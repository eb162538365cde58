/** Byte encodings used for tokens, sealed values, cursors and hashes: one copy of each. */
import { createHash } from "node:crypto";

/** base64url without padding (RFC 4648 §5), as used in tokens and cursors. */
export function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Inverse of `b64url`; throws on characters outside the alphabet. */
export function fromB64url(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Lowercase hex of a digest or MAC. */
export function hex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return Array.from(view, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * SHA-256 of a string's UTF-8 bytes, as lowercase hex. Synchronous
 * (`node:crypto`): WebCrypto's `digest` costs about 30 µs a call on the
 * isolate's thread for the short inputs hashed here (tokens, audit entries,
 * idempotency keys), about thirty times as much, on every request.
 */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** JSON with object keys sorted at every level; `undefined` members dropped. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const parts = Object.keys(obj).sort()
    .filter((k) => obj[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`);
  return `{${parts.join(",")}}`;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** A body's bytes as UTF-8 text, or where they stop being UTF-8 (the first bad byte's offset). */
export function decodeUtf8(bytes: Uint8Array): { text: string } | { offset: number; byte: number } {
  try {
    return { text: UTF8.decode(bytes) };
  } catch {
    const offset = invalidUtf8At(bytes);
    return { offset, byte: bytes[offset] };
  }
}

/**
 * The offset of the first byte that begins no well-formed UTF-8 sequence (RFC 3629 §4: no
 * overlong forms, no surrogates, nothing above U+10FFFF, no character cut off by the end).
 * Only asked once the native decoder refused the bytes, so there is one.
 */
function invalidUtf8At(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    const need = continuations(b);
    if (need === 0) return i;
    // the second byte's range rules out overlong forms, surrogates and code points past U+10FFFF
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]; // undefined past the end: cut off
      if (!(c >= (k === 1 ? lo : 0x80) && c <= (k === 1 ? hi : 0xbf))) return i;
    }
    i += need + 1;
  }
  return bytes.length - 1;
}

/** How many continuation bytes follow a lead byte `b` (0: `b` begins no character). */
function continuations(b: number): number {
  if (b >= 0xc2 && b <= 0xdf) return 1;
  if (b >= 0xe0 && b <= 0xef) return 2;
  if (b >= 0xf0 && b <= 0xf4) return 3;
  return 0;
}
