/** The OpenTimestamps proof format, byte-compatible with python-opentimestamps. */
export * from "./errors.ts";
export * from "./bytes.ts";
export * from "./hashes.ts";
export * from "./ops.ts";
export * from "./attestations.ts";
export * from "./timestamp.ts";
export * from "./detached.ts";
export * from "./merkle.ts";
export * from "./bitcoin.ts";
export * from "./bitcoin-tx.ts";
export * from "./evaluate.ts";
export * from "./info.ts";
