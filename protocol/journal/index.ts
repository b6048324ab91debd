/** The calendar journal format: records, segments, the hash chain, checkpoints and commitments. */
export * from "./errors.ts";
export * from "./crc32c.ts";
export * from "./varint.ts";
export * from "./record.ts";
export * from "./round.ts";
export * from "./stamp.ts";
export * from "./stamp-proof.ts";
export * from "./chain.ts";
export * from "./segment.ts";
export * from "./checkpoint.ts";
export * from "./commitment.ts";
export * from "./proof.ts";
export * from "./batch.ts";
