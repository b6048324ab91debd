/**
 * Detached `.ots` files (PROTOCOL-NOTES §1.5, python `DetachedTimestampFile`):
 * magic, major version 1 (one byte, as upstream 0.4.5 writes and reads it),
 * the file-hash op, the file digest, then the tree rooted at that digest.
 */
import {ByteReader, ByteWriter, bytesEqual, fromHex} from "./bytes.ts";
import {otsError, OtsErrorCode} from "./errors.ts";
import {CRYPT_DIGEST_LENGTH, isCryptOp, OpTag} from "./ops.ts";
import type {CryptOpKind} from "./ops.ts";
import {readTimestamp, Timestamp, writeTimestamp} from "./timestamp.ts";

/** "\0OpenTimestamps\0\0Proof\0" followed by bf89e2e884e89294. */
export const HEADER_MAGIC = fromHex("004f70656e54696d657374616d7073000050726f6f6600bf89e2e884e89294") as Uint8Array;
export const MAJOR_VERSION = 1;

export type DetachedTimestampFile = {readonly fileHashOp: CryptOpKind; readonly timestamp: Timestamp};

export function detachedFile(fileHashOp: CryptOpKind, timestamp: Timestamp): DetachedTimestampFile {
  if (timestamp.msg.length !== CRYPT_DIGEST_LENGTH[fileHashOp]) {
    throw otsError(OtsErrorCode.BAD_DIGEST_LENGTH, `a ${fileHashOp} digest is ${CRYPT_DIGEST_LENGTH[fileHashOp]} bytes, got ${timestamp.msg.length}`);
  }
  return {fileHashOp, timestamp};
}

export function encodeDetached(f: DetachedTimestampFile): Uint8Array {
  const w = new ByteWriter();
  w.writeBytes(HEADER_MAGIC);
  w.writeByte(MAJOR_VERSION);
  w.writeByte(OpTag[f.fileHashOp]);
  w.writeBytes(f.timestamp.msg);
  writeTimestamp(f.timestamp, w);
  return w.finish();
}

export function decodeDetached(bytes: Uint8Array): DetachedTimestampFile {
  const r = new ByteReader(bytes);
  if (bytes.length < HEADER_MAGIC.length || !bytesEqual(bytes.subarray(0, HEADER_MAGIC.length), HEADER_MAGIC)) {
    throw otsError(OtsErrorCode.BAD_MAGIC, "Not an OpenTimestamps proof: bad magic bytes", 0);
  }
  r.pos = HEADER_MAGIC.length;
  const major = r.readByte();
  if (major !== MAJOR_VERSION) throw otsError(OtsErrorCode.UNSUPPORTED_VERSION, `Version ${major} detached timestamp files are not supported`, r.pos - 1);
  const tag = r.readByte();
  const kind = (Object.keys(OpTag) as Array<keyof typeof OpTag>).find((k) => OpTag[k] === tag);
  if (kind === undefined || !isCryptOp(kind)) {
    throw otsError(OtsErrorCode.BAD_FILE_HASH_OP, `Unknown crypt op tag 0x${tag.toString(16).padStart(2, "0")}`, r.pos - 1);
  }
  const digest = r.readBytes(CRYPT_DIGEST_LENGTH[kind]);
  const timestamp = readTimestamp(r, Uint8Array.from(digest));
  r.assertEof();
  return {fileHashOp: kind, timestamp};
}
