/**
 * Moved to `node/anchor/fee-schedule.ts` (the fee schedule is the anchoring
 * engine's). Re-exported here only because `node/stamper/options.ts`, which
 * another branch edits, imports it from this path; drop this file once that
 * import points at `../anchor/fee-schedule.ts`.
 */
export {defaultFeeScheduleOptions, feeForVsize, nextFeeRate, scheduledFeeRate} from "../anchor/fee-schedule.ts";
export type {FeeScheduleOptions, PaidFee} from "../anchor/fee-schedule.ts";
