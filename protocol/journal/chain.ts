/**
 * The journal's hash chain. Each record's chain hash commits to every record
 * before it, so a checkpoint (calendar id, length, chain hash) signed once
 * vouches for the whole prefix and a mirror can check segments fetched from
 * anyone:
 *
 *   chain(-1) = sha256("otsfed journal v1" ‖ varbytes(calendarId))
 *   chain(n)  = sha256(chain(n-1) ‖ body(n))       body = kind ‖ length ‖ payload
 *
 * The hash function is a parameter so node/ can pass a native sha256; the
 * default is the pure one every implementation can reproduce.
 */
import {sha256 as pureSha256} from "../ots/hashes.ts";
import {varuintSize, writeVaruintAt} from "./varint.ts";

/** A sha256 implementation: bytes in, 32 bytes out. */
export type Sha256 = (data: Uint8Array) => Uint8Array;

export const CHAIN_HASH_SIZE = 32;
const GENESIS_DOMAIN = new TextEncoder().encode("otsfed journal v1");

/** The chain hash before the first record of `calendarId`'s journal. */
export function genesisChainHash(calendarId: Uint8Array, sha256: Sha256 = pureSha256): Uint8Array {
  const buf = new Uint8Array(GENESIS_DOMAIN.length + varuintSize(calendarId.length) + calendarId.length);
  buf.set(GENESIS_DOMAIN, 0);
  const p = writeVaruintAt(buf, GENESIS_DOMAIN.length, calendarId.length);
  buf.set(calendarId, p);
  return sha256(buf);
}

/** The chain hash after a record with frame `body`, given the one before it. */
export function nextChainHash(prev: Uint8Array, body: Uint8Array, sha256: Sha256 = pureSha256): Uint8Array {
  const buf = new Uint8Array(CHAIN_HASH_SIZE + body.length);
  buf.set(prev, 0);
  buf.set(body, CHAIN_HASH_SIZE);
  return sha256(buf);
}
