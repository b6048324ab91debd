/**
 * The four hash functions OpenTimestamps ops use, from @noble/hashes (pure
 * JS, audited): protocol/ stays free of node:crypto so it runs anywhere.
 */
import {sha256 as nobleSha256} from "@noble/hashes/sha2.js";
import {ripemd160 as nobleRipemd160, sha1 as nobleSha1} from "@noble/hashes/legacy.js";
import {keccak_256} from "@noble/hashes/sha3.js";

export const sha256 = (msg: Uint8Array): Uint8Array => nobleSha256(msg);
export const sha1 = (msg: Uint8Array): Uint8Array => nobleSha1(msg);
export const ripemd160 = (msg: Uint8Array): Uint8Array => nobleRipemd160(msg);
/** Original Keccak padding (Ethereum's), not NIST SHA3-256. */
export const keccak256 = (msg: Uint8Array): Uint8Array => keccak_256(msg);
/** Bitcoin's double sha256. */
export const sha256d = (msg: Uint8Array): Uint8Array => nobleSha256(nobleSha256(msg));
