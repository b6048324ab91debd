/**
 * Native (OpenSSL) sha256 for node/'s hot paths: journal chain hashes, nonced
 * round leaves, stamp trees. Same bytes as protocol/'s pure implementation,
 * which stays the reference (protocol/ may not import node:crypto).
 */
import {hash} from "node:crypto";

export const nativeSha256 = (data: Uint8Array): Uint8Array => hash("sha256", data, "buffer");

/** Bitcoin's double sha256 (txids, block hashes). */
export const nativeSha256d = (data: Uint8Array): Uint8Array => nativeSha256(nativeSha256(data));
