/**
 * The 80-byte Bitcoin block header: strict codec, hash and proof-of-work check.
 *
 * Layout (all integers little endian): version i32 ‖ prevHash 32 ‖ merkleRoot 32 ‖
 * time u32 ‖ bits u32 ‖ nonce u32. Hashes are kept in internal byte order; the
 * OpenTimestamps Bitcoin attestation compares its message with `merkleRoot` in
 * exactly this order (PROTOCOL-NOTES §1.3).
 */
import {BitcoinCodecError, BitcoinCodecErrorCode} from "./errors.ts";
import {sha256d} from "./hash.ts";

/** Length of a serialized block header. */
export const BLOCK_HEADER_LENGTH = 80;

/** A decoded block header; hashes in internal byte order. */
export type BlockHeader = {
  version: number;
  prevHash: Uint8Array;
  merkleRoot: Uint8Array;
  /** Unix time in seconds. */
  time: number;
  bits: number;
  nonce: number;
};

/** Serializes a header to its 80 bytes. */
export function encodeBlockHeader(h: BlockHeader): Uint8Array {
  if (h.prevHash.length !== 32) throw new BitcoinCodecError({code: BitcoinCodecErrorCode.HASH_LENGTH, length: h.prevHash.length});
  if (h.merkleRoot.length !== 32) throw new BitcoinCodecError({code: BitcoinCodecErrorCode.HASH_LENGTH, length: h.merkleRoot.length});
  const out = new Uint8Array(BLOCK_HEADER_LENGTH);
  const view = new DataView(out.buffer);
  view.setInt32(0, h.version, true);
  out.set(h.prevHash, 4);
  out.set(h.merkleRoot, 36);
  view.setUint32(68, h.time, true);
  view.setUint32(72, h.bits, true);
  view.setUint32(76, h.nonce, true);
  return out;
}

/** Decodes exactly 80 bytes; any other length is rejected. */
export function decodeBlockHeader(bytes: Uint8Array): BlockHeader {
  if (bytes.length !== BLOCK_HEADER_LENGTH) throw new BitcoinCodecError({code: BitcoinCodecErrorCode.HEADER_LENGTH, length: bytes.length});
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    version: view.getInt32(0, true),
    prevHash: bytes.slice(4, 36),
    merkleRoot: bytes.slice(36, 68),
    time: view.getUint32(68, true),
    bits: view.getUint32(72, true),
    nonce: view.getUint32(76, true),
  };
}

/** The block hash (internal byte order): double SHA-256 of the 80 header bytes. */
export function blockHeaderHash(header: Uint8Array): Uint8Array {
  if (header.length !== BLOCK_HEADER_LENGTH) throw new BitcoinCodecError({code: BitcoinCodecErrorCode.HEADER_LENGTH, length: header.length});
  return sha256d(header);
}

/** Expands compact `bits` to the 256-bit target (0 when negative or overflowing, as Core treats them as invalid). */
export function bitsToTarget(bits: number): bigint {
  const exponent = bits >>> 24;
  const mantissa = bits & 0x007fffff;
  if ((bits & 0x00800000) !== 0 && mantissa !== 0) return 0n;
  const target = exponent <= 3 ? BigInt(mantissa >>> (8 * (3 - exponent))) : BigInt(mantissa) << BigInt(8 * (exponent - 3));
  return target >= 1n << 256n ? 0n : target;
}

/** Reads a 32-byte hash in internal (little-endian) order as an unsigned integer. */
export function hashToBigInt(hash: Uint8Array): bigint {
  let v = 0n;
  for (let i = hash.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(hash[i] ?? 0);
  return v;
}

/** True when the header's hash meets the target its own `bits` encode. */
export function checkProofOfWork(header: Uint8Array): boolean {
  const target = bitsToTarget(decodeBlockHeader(header).bits);
  return target > 0n && hashToBigInt(blockHeaderHash(header)) <= target;
}
