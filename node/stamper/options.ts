/**
 * The stamper's options (plain data; node/options.ts maps flags, environment
 * and config keys onto them).
 */
import {defaultFeeScheduleOptions} from "./fee-schedule.ts";
import type {FeeScheduleOptions} from "./fee-schedule.ts";

export type StamperOptions = {
  /**
   * Least time between the first broadcasts of two stamp cycles, ms (otsd's
   * `--btc-min-tx-interval`). Replacements of the cycle in flight happen once
   * per new block regardless.
   */
  intervalMs: number;
  /** Confirmations (K) a stamp needs before proofs are written and served. */
  confirmations: number;
  /** `estimatesmartfee` target, blocks, for a cycle's first feerate. */
  confTarget: number;
  /** Feerate used when the node has no estimate yet (fresh regtest, devnet), sat/vB. */
  fallbackFeeRate: number;
  /** How fees rise while a stamp waits (maximum feerate, maximum fee, deadline). */
  fee: FeeScheduleOptions;
  /** How often the Bitcoin node is polled for new blocks, ms. */
  pollIntervalMs: number;
};

export const defaultStamperOptions: StamperOptions = {
  // otsd's default: one transaction an hour at most.
  intervalMs: 3_600_000,
  confirmations: 6,
  confTarget: 6,
  fallbackFeeRate: 2,
  fee: {...defaultFeeScheduleOptions},
  pollIntervalMs: 2_000,
};

/** The devnet's: stamp every few seconds, proofs after two blocks. */
export const devnetStamperOptions: StamperOptions = {
  ...defaultStamperOptions,
  intervalMs: 3_000,
  confirmations: 2,
  pollIntervalMs: 500,
  fee: {...defaultFeeScheduleOptions, deadlineBlocks: 6},
};
