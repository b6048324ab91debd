import {CalendarError} from "../errors.ts";

/** Codes for malformed Bitcoin structures met by the pure codecs in `protocol/bitcoin/`. */
export const BitcoinCodecErrorCode = {
  HEADER_LENGTH: "BITCOIN_CODEC_HEADER_LENGTH",
  HASH_LENGTH: "BITCOIN_CODEC_HASH_LENGTH",
  BAD_HEX: "BITCOIN_CODEC_BAD_HEX",
  DESCRIPTOR_CHARSET: "BITCOIN_CODEC_DESCRIPTOR_CHARSET",
  DESCRIPTOR_CHECKSUM: "BITCOIN_CODEC_DESCRIPTOR_CHECKSUM",
} as const;

/** Metadata of a {@link BitcoinCodecError}, discriminated by `code`. */
export type BitcoinCodecErrorType =
  | {code: typeof BitcoinCodecErrorCode.HEADER_LENGTH; length: number}
  | {code: typeof BitcoinCodecErrorCode.HASH_LENGTH; length: number}
  | {code: typeof BitcoinCodecErrorCode.BAD_HEX}
  | {code: typeof BitcoinCodecErrorCode.DESCRIPTOR_CHARSET}
  | {code: typeof BitcoinCodecErrorCode.DESCRIPTOR_CHECKSUM; expected: string; got: string | null};

/** Raised by the pure Bitcoin codecs on malformed input. */
export class BitcoinCodecError extends CalendarError<BitcoinCodecErrorType> {}
