/**
 * The journal's strict varuint: unsigned LEB128 like the proof format, but a
 * non-minimal form or a value above the caller's limit is refused, and the
 * end of input is reported distinctly (a record cut by a crash is a torn
 * tail, not corruption).
 */
import {journalError, JournalErrorCode} from "./errors.ts";

/** Value and the position after it. */
export type VaruintRead = {value: number; end: number};

/** Read a minimal varuint at `pos`, at most `max`; throws TRUNCATED if the bytes end first. */
export function readVaruintStrict(buf: Uint8Array, pos: number, max: number): VaruintRead {
  let value = 0;
  let scale = 1;
  for (let i = pos; ; i++) {
    if (i >= buf.length) throw journalError(JournalErrorCode.TRUNCATED, "varuint runs past the end", pos);
    const b = buf[i] as number;
    value += (b & 0x7f) * scale;
    if (value > max) throw journalError(JournalErrorCode.BAD_VARUINT, `varuint above ${max}`, pos);
    if ((b & 0x80) === 0) {
      // A last byte of 0 after the first means a longer-than-needed form.
      if (b === 0 && i > pos) throw journalError(JournalErrorCode.BAD_VARUINT, "non-minimal varuint", pos);
      return {value, end: i + 1};
    }
    scale *= 128;
  }
}

/** The writer is shared with the proof format (the same minimal LEB128). */
export {varuintSize, writeVaruintAt} from "../ots/bytes.ts";

/** Read a big-endian uint64 that must fit a safe integer. */
export function readU64(buf: Uint8Array, pos: number): number {
  if (pos + 8 > buf.length) throw journalError(JournalErrorCode.TRUNCATED, "uint64 runs past the end", pos);
  let v = 0;
  for (let i = 0; i < 8; i++) v = v * 256 + (buf[pos + i] as number);
  if (!Number.isSafeInteger(v)) throw journalError(JournalErrorCode.BAD_VARUINT, "uint64 above 2^53-1", pos);
  return v;
}

/** Write a safe integer as a big-endian uint64 at `pos`. */
export function writeU64(buf: Uint8Array, pos: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`uint64 out of range: ${v}`);
  for (let i = 7; i >= 0; i--) {
    buf[pos + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

/** Read a big-endian uint32. */
export function readU32(buf: Uint8Array, pos: number): number {
  if (pos + 4 > buf.length) throw journalError(JournalErrorCode.TRUNCATED, "uint32 runs past the end", pos);
  return (((buf[pos] as number) << 24) | ((buf[pos + 1] as number) << 16) | ((buf[pos + 2] as number) << 8) | (buf[pos + 3] as number)) >>> 0;
}

/** Write a big-endian uint32 at `pos`. */
export function writeU32(buf: Uint8Array, pos: number, v: number): void {
  buf[pos] = (v >>> 24) & 0xff;
  buf[pos + 1] = (v >>> 16) & 0xff;
  buf[pos + 2] = (v >>> 8) & 0xff;
  buf[pos + 3] = v & 0xff;
}
