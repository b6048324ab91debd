import {bytesToHex, hexToBytes} from "@noble/hashes/utils.js";
import {BitcoinCodecError, BitcoinCodecErrorCode} from "./errors.ts";

/** Bitcoin's double SHA-256 and byte equality: one implementation, shared with the proof library. */
export {sha256d} from "../ots/hashes.ts";
export {bytesEqual} from "../ots/bytes.ts";

/** A reversed copy: Bitcoin shows hashes in the reverse of their internal byte order. */
export function reverseBytes(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from(bytes).reverse();
}

/** Display hex (as bitcoind prints block hashes and txids) of a 32-byte hash in internal byte order. */
export function hashToDisplayHex(hash: Uint8Array): string {
  if (hash.length !== 32) throw new BitcoinCodecError({code: BitcoinCodecErrorCode.HASH_LENGTH, length: hash.length});
  return bytesToHex(reverseBytes(hash));
}

/** Parses a display-hex 32-byte hash (as bitcoind prints it) into internal byte order. */
export function displayHexToHash(hex: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new BitcoinCodecError({code: BitcoinCodecErrorCode.BAD_HEX}, "expected 64 hex characters");
  return reverseBytes(hexToBytes(hex));
}
