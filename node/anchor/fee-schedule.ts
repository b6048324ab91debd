/**
 * How the anchoring engine raises its feerate while a transaction waits for
 * a block.
 *
 * otsd adds about 1 sat/vB per block, which takes days to matter when fees
 * spike. We instead move geometrically from the first estimate to the
 * operator's maximum so the maximum is reached exactly at the deadline (in
 * blocks since the first broadcast), and every replacement also obeys Bitcoin
 * Core's replacement rules (a higher feerate, and an absolute fee at least
 * the old one plus the incremental relay fee over the new size).
 */

/** How fees may rise (plain data). */
export type FeeScheduleOptions = {
  /** Never pay more than this feerate, sat/vB. */
  maxFeeRate: number;
  /** Never pay more than this many satoshis for one transaction. */
  maxFeeSats: bigint;
  /** Blocks after the first broadcast by which the feerate reaches `maxFeeRate`. */
  deadlineBlocks: number;
  /** Core's `-incrementalrelayfee`, sat/vB (1 before v30, 0.1 since). */
  incrementalRelayFeeRate: number;
};

/** Defaults: otsd's fee cap, a day's deadline. */
export const defaultFeeScheduleOptions: FeeScheduleOptions = {
  maxFeeRate: 200,
  // otsd's --btc-max-fee default, 0.001 BTC.
  maxFeeSats: 100_000n,
  // About a day: a stamp that has not confirmed by then pays what it must.
  deadlineBlocks: 144,
  incrementalRelayFeeRate: 1,
};

/** The fee actually paid for `vsize` at `feeRate`, rounded up to whole satoshis. */
export function feeForVsize(feeRate: number, vsize: number): bigint {
  return BigInt(Math.ceil(feeRate * vsize));
}

/** The schedule's target feerate after `blocksWaited` blocks without confirmation. */
export function scheduledFeeRate(startFeeRate: number, blocksWaited: number, opts: FeeScheduleOptions): number {
  const start = Math.min(Math.max(startFeeRate, 0.001), opts.maxFeeRate);
  if (blocksWaited <= 0) return start;
  if (blocksWaited >= opts.deadlineBlocks) return opts.maxFeeRate;
  return start * (opts.maxFeeRate / start) ** (blocksWaited / opts.deadlineBlocks);
}

/** What the last broadcast version paid. */
export type PaidFee = {feeRate: number; feeSats: bigint};

/**
 * The feerate for the next version of a stamp of `vsize` vbytes, or null when
 * the caps leave no valid replacement (keep waiting on the current version).
 * `previous` is null for the first version.
 */
export function nextFeeRate(args: {startFeeRate: number; blocksWaited: number; vsize: number; previous: PaidFee | null}, opts: FeeScheduleOptions): number | null {
  const capRate = Math.min(opts.maxFeeRate, Number(opts.maxFeeSats) / args.vsize);
  let rate = scheduledFeeRate(args.startFeeRate, args.blocksWaited, opts);
  if (args.previous !== null) {
    // BIP125 rules 3 and 4 as Core applies them to a single replaced transaction.
    const minFee = args.previous.feeSats + feeForVsize(opts.incrementalRelayFeeRate, args.vsize);
    const minRate = Number(minFee) / args.vsize;
    rate = Math.max(rate, minRate, args.previous.feeRate + opts.incrementalRelayFeeRate / 1000);
  }
  if (rate > capRate + 1e-9) return args.previous === null ? capRate : null;
  return rate;
}
