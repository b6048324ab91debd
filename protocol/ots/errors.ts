import {CalendarError} from "../errors.ts";

/** Every way an OpenTimestamps proof can fail to decode, encode or evaluate (PROTOCOL-NOTES §1). */
export const OtsErrorCode = {
  /** Input ended before the structure did. */
  TRUNCATED: "OTS_TRUNCATED",
  /** Bytes left after a complete structure (python: TrailingGarbageError). */
  TRAILING_BYTES: "OTS_TRAILING_BYTES",
  /** A varuint larger than 2^53-1, which no valid proof needs. */
  VARINT_TOO_LARGE: "OTS_VARINT_TOO_LARGE",
  /** A varbytes length outside the allowed range for its field. */
  BAD_LENGTH: "OTS_BAD_LENGTH",
  /** An op tag that is not one of the eight known ops. */
  UNKNOWN_OP: "OTS_UNKNOWN_OP",
  /** An op's input message is longer than 4096 bytes. */
  MSG_TOO_LONG: "OTS_MSG_TOO_LONG",
  /** An op's result is longer than 4096 bytes. */
  RESULT_TOO_LONG: "OTS_RESULT_TOO_LONG",
  /** An op cannot be applied to this message (reverse/hexlify of nothing, hexlify over 2048 bytes). */
  BAD_OP_INPUT: "OTS_BAD_OP_INPUT",
  /** More than 255 ops along one path. */
  RECURSION_LIMIT: "OTS_RECURSION_LIMIT",
  /** A Pending URI over 1000 bytes or with a byte outside [A-Za-z0-9._/:-]. */
  BAD_PENDING_URI: "OTS_BAD_PENDING_URI",
  /** Extra bytes inside a known attestation's payload. */
  ATTESTATION_TRAILING_BYTES: "OTS_ATTESTATION_TRAILING_BYTES",
  /** A timestamp node with neither attestations nor ops cannot be written. */
  EMPTY_TIMESTAMP: "OTS_EMPTY_TIMESTAMP",
  /** Not an OpenTimestamps file: the 31-byte magic is wrong. */
  BAD_MAGIC: "OTS_BAD_MAGIC",
  /** A detached file whose major version is not 1. */
  UNSUPPORTED_VERSION: "OTS_UNSUPPORTED_VERSION",
  /** The file-hash op is not sha1, ripemd160, sha256 or keccak256. */
  BAD_FILE_HASH_OP: "OTS_BAD_FILE_HASH_OP",
  /** A digest or message whose length does not fit where it is used. */
  BAD_DIGEST_LENGTH: "OTS_BAD_DIGEST_LENGTH",
  /** A transaction whose non-witness serialization is over 4096 bytes cannot sit in a proof. */
  TX_TOO_LARGE: "OTS_TX_TOO_LARGE",
  /** The message to prove is not inside the transaction. */
  MSG_NOT_IN_TX: "OTS_MSG_NOT_IN_TX",
  /** The transaction's txid is not in the block's txid list. */
  TX_NOT_IN_BLOCK: "OTS_TX_NOT_IN_BLOCK",
  /** A Bitcoin block header that is not 80 bytes. */
  BAD_BLOCK_HEADER: "OTS_BAD_BLOCK_HEADER",
  /** Merging timestamps rooted at different messages. */
  MSG_MISMATCH: "OTS_MSG_MISMATCH",
} as const;
export type OtsErrorCode = (typeof OtsErrorCode)[keyof typeof OtsErrorCode];

/** A typed OpenTimestamps format error; `offset` is the byte position in the input where known. */
export class OtsError extends CalendarError<{code: OtsErrorCode; offset?: number}> {}

/** Throw a typed error with an optional byte offset. */
export function otsError(code: OtsErrorCode, message: string, offset?: number): OtsError {
  return new OtsError(offset === undefined ? {code} : {code, offset}, offset === undefined ? message : `${message} (at byte ${offset})`);
}
