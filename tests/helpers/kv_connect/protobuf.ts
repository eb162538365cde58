/**
 * The protobuf wire format, as much of it as the KV Connect data path uses:
 * varints (wire type 0), length-delimited bytes and sub-messages (wire type 2),
 * and skipping of fixed-width fields a newer client may add (types 1 and 5).
 * Decoding yields every field in order, so repeated fields are just repeats.
 */

export type WireValue = { tag: number; varint: bigint } | { tag: number; bytes: Uint8Array };

export class ProtobufError extends Error {}

/** Decodes one message into its fields, in wire order; unknown fields are kept, never guessed. */
export function decodeFields(buf: Uint8Array): WireValue[] {
  const out: WireValue[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= buf.length) throw new ProtobufError("truncated varint");
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new ProtobufError("varint longer than 10 bytes");
  };
  while (pos < buf.length) {
    const key = varint();
    const tag = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) out.push({ tag, varint: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new ProtobufError(`field ${tag} runs past the end`);
      out.push({ tag, bytes: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new ProtobufError(`unsupported wire type ${wire} (field ${tag})`);
  }
  if (pos !== buf.length) throw new ProtobufError("a fixed-width field runs past the end");
  return out;
}

/** Builds a message field by field; zero/empty scalars are left out, as proto3 does. */
export class Writer {
  #parts: number[] = [];

  #varint(v: bigint) {
    // Negative int32/int64 values are sent as their 64-bit two's complement.
    let x = BigInt.asUintN(64, v);
    while (x > 0x7fn) {
      this.#parts.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.#parts.push(Number(x));
  }

  uint(tag: number, v: number | bigint | boolean): this {
    const n = typeof v === "boolean" ? (v ? 1n : 0n) : BigInt(v);
    if (n === 0n) return this;
    this.#varint(BigInt(tag << 3));
    this.#varint(n);
    return this;
  }

  /** A repeated scalar, one field per value (unpacked; proto3 readers accept both forms). */
  uints(tag: number, vs: number[]): this {
    for (const v of vs) {
      this.#varint(BigInt(tag << 3));
      this.#varint(BigInt(v));
    }
    return this;
  }

  bytes(tag: number, b: Uint8Array, keepEmpty = false): this {
    if (b.length === 0 && !keepEmpty) return this;
    this.#varint(BigInt((tag << 3) | 2));
    this.#varint(BigInt(b.length));
    for (const x of b) this.#parts.push(x);
    return this;
  }

  string(tag: number, s: string): this {
    return this.bytes(tag, new TextEncoder().encode(s));
  }

  /** An embedded message; present even when empty (an empty range is still a range). */
  message(tag: number, m: Writer): this {
    return this.bytes(tag, m.finish(), true);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

/** Field helpers over decoded fields. */
export function bytesOf(fields: WireValue[], tag: number): Uint8Array {
  const f = fields.findLast((x) => x.tag === tag);
  if (!f) return new Uint8Array();
  if (!("bytes" in f)) throw new ProtobufError(`field ${tag} should be length-delimited`);
  return f.bytes;
}

export function allBytesOf(fields: WireValue[], tag: number): Uint8Array[] {
  return fields.filter((x) => x.tag === tag).map((f) => {
    if (!("bytes" in f)) throw new ProtobufError(`field ${tag} should be length-delimited`);
    return f.bytes;
  });
}

export function varintOf(fields: WireValue[], tag: number): bigint {
  const f = fields.findLast((x) => x.tag === tag);
  if (!f) return 0n;
  if (!("varint" in f)) throw new ProtobufError(`field ${tag} should be a varint`);
  return f.varint;
}
