import {otsError, OtsErrorCode} from "./errors.ts";

/** Compare two byte strings lexicographically (shorter prefix first), as python compares `bytes`. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const HEX = Array.from({length: 256}, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i] as number];
  return s;
}

/** Decode hex (either case). Returns null for odd length or a non-hex character. */
export function fromHex(s: string): Uint8Array | null {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Reversed-byte hex, the way Bitcoin displays txids, block hashes and merkle roots. */
export function toDisplayHex(b: Uint8Array): string {
  return toHex(Uint8Array.from(b).reverse());
}

/** Bytes needed for the minimal unsigned LEB128 of `v`. */
export function varuintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/**
 * Write the minimal unsigned LEB128 of `v` into `buf` at `pos`; returns the
 * position after it. The one varuint writer: the proof format's and the
 * journal's encodings are the same.
 */
export function writeVaruintAt(buf: Uint8Array, pos: number, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varuint out of range: ${v}`);
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    buf[pos++] = b;
  } while (v > 0);
  return pos;
}

/** Largest varuint value we accept: every real height and length fits far below it. */
export const MAX_VARUINT = Number.MAX_SAFE_INTEGER;

/**
 * Reads the OpenTimestamps primitives (PROTOCOL-NOTES §1.1) from a byte array,
 * never past its end and never allocating more than the bytes it was given.
 */
export class ByteReader {
  readonly buf: Uint8Array;
  pos: number;

  constructor(buf: Uint8Array, pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  readByte(): number {
    if (this.pos >= this.buf.length) throw otsError(OtsErrorCode.TRUNCATED, "unexpected end of data", this.pos);
    return this.buf[this.pos++] as number;
  }

  /** A subarray view of the next n bytes (no copy). */
  readBytes(n: number): Uint8Array {
    if (n > this.remaining) throw otsError(OtsErrorCode.TRUNCATED, `wanted ${n} bytes, ${this.remaining} left`, this.pos);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * Unsigned LEB128. Like python-opentimestamps, non-minimal forms (`80 00`)
   * are accepted and read as their value; our writer always emits the minimal
   * form, so such input re-serializes shorter, exactly as the reference does.
   * Unlike python, values above 2^53-1 are refused (python has no cap); no
   * valid proof carries one.
   */
  readVaruint(): number {
    const start = this.pos;
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = this.readByte();
      const group = b & 0x7f;
      if (group !== 0) {
        value += group * scale;
        if (value > MAX_VARUINT) throw otsError(OtsErrorCode.VARINT_TOO_LARGE, "varuint above 2^53-1", start);
      }
      if ((b & 0x80) === 0) return value;
      // Past 2^53 only zero groups can follow without overflowing; keep the
      // scale finite so a long run of `80` bytes stays cheap and exact.
      if (scale < 2 ** 56) scale *= 128;
    }
  }

  /** varbytes with python's bounds check: `min <= len <= max`, checked before reading. */
  readVarbytes(max: number, min = 0): Uint8Array {
    const at = this.pos;
    const len = this.readVaruint();
    if (len > max) throw otsError(OtsErrorCode.BAD_LENGTH, `varbytes length ${len} over ${max}`, at);
    if (len < min) throw otsError(OtsErrorCode.BAD_LENGTH, `varbytes length ${len} under ${min}`, at);
    return this.readBytes(len);
  }

  assertEof(): void {
    if (this.pos !== this.buf.length) throw otsError(OtsErrorCode.TRAILING_BYTES, `${this.remaining} trailing bytes`, this.pos);
  }
}

/** Appends bytes into a growing buffer; `finish()` returns exactly what was written. */
export class ByteWriter {
  private buf: Uint8Array;
  private len = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  writeByte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  writeBytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Minimal unsigned LEB128. */
  writeVaruint(v: number): void {
    this.reserve(varuintSize(v));
    this.len = writeVaruintAt(this.buf, this.len, v);
  }

  writeVarbytes(b: Uint8Array): void {
    this.writeVaruint(b.length);
    this.writeBytes(b);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
