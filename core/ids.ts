/**
 * Prefixed ULIDs (`rfd_01J…`): 48 bits of milliseconds from the injected clock,
 * then 80 random bits, Crockford base32. Lexicographic order = time order, so
 * a `kv.list` over ids comes back oldest first. Within one millisecond the
 * random part is incremented so ids made in a burst keep their order too.
 */
import type { Clock } from "./clock.ts";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export type IdPrefix =
  | "adm"
  | "aud"
  | "rfd"
  | "dsp"
  | "fa"
  | "txn"
  | "rty"
  | "job"
  | "whe"
  | "led"
  | "sweep"
  | "note"
  | "grt"
  | "ops"
  | "req"
  | "apr"
  | "aut"
  | "fsz";

function encodeTime(ms: number): string {
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits -> 16 base32 chars, 5 bits at a time.
  let bits = 0;
  let value = 0;
  let out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

/**
 * The shape of every id of `prefix` the factory makes: the prefix, `_`, then
 * 26 characters of Crockford base32 (10 of time, 16 random; no I, L, O or U).
 */
export function idPattern(prefix: IdPrefix): RegExp {
  return new RegExp(`^${prefix}_[${ALPHABET}]{26}$`);
}

/** Sorts before every id of `prefix` made at or after `ms`: where a `kv.list` over them starts. */
export function idLowerBound(prefix: IdPrefix, ms: number): string {
  return `${prefix}_${encodeTime(ms)}`;
}

export interface IdFactory {
  (prefix: IdPrefix): string;
}

/** A monotonic id factory bound to a clock. */
export function createIdFactory(clock: Clock): IdFactory {
  let lastMs = -1;
  const last = new Uint8Array(10);
  return (prefix) => {
    const ms = clock.now();
    if (ms <= lastMs) {
      // Same (or earlier) millisecond: increment the random part to stay ordered.
      for (let i = last.length - 1; i >= 0; i--) {
        if (last[i] < 255) {
          last[i]++;
          break;
        }
        last[i] = 0;
      }
    } else {
      crypto.getRandomValues(last);
      last[0] &= 0x7f; // leave head-room for increments
      lastMs = ms;
    }
    return `${prefix}_${encodeTime(lastMs)}${encodeRandom(last)}`;
  };
}

/** The millisecond timestamp inside an id made by `createIdFactory`. */
export function idTime(id: string): number {
  const body = id.slice(id.indexOf("_") + 1, id.indexOf("_") + 11);
  let ms = 0;
  for (const ch of body) ms = ms * 32 + ALPHABET.indexOf(ch);
  return ms;
}
