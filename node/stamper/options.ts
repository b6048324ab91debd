/**
 * The stamper's options (plain data), their defaults and their rows of
 * settings (STYLE §11; node/options.ts aggregates the rows and layers the
 * sources).
 */
import type {OptionSpec} from "../config/option-spec.ts";
import {decimal, durationValue, integer, parseDuration} from "../config/values.ts";
import {defaultFeeScheduleOptions} from "../anchor/fee-schedule.ts";
import type {AnchorOptions} from "../anchor/options.ts";

/**
 * The stamper's settings are the anchoring engine's (interval between
 * cycles, K, the first feerate's target and fallback, the fee schedule, the
 * poll interval), set by the operator as the calendar's stamping policy.
 */
export type StamperOptions = AnchorOptions;

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

/** How often, how deep, and what fees a stamp may pay. */
export const stamperOptionSpecs: readonly OptionSpec<StamperOptions>[] = [
  {
    key: "stampInterval",
    env: "OTSFED_STAMP_INTERVAL",
    flag: "--stamp-interval",
    help: `least time between two stamp transactions, e.g. 30s, 10m, 1h (default ${durationValue(defaultStamperOptions.intervalMs)})`,
    apply: (o, v) => void (o.intervalMs = parseDuration(v, 1_000, 7 * 86_400_000)),
  },
  {
    key: "confirmations",
    env: "OTSFED_CONFIRMATIONS",
    flag: "--confirmations",
    help: `blocks on top of a stamp before its proofs are served (default ${defaultStamperOptions.confirmations})`,
    apply: (o, v) => void (o.confirmations = integer(v, 1, 100)),
  },
  {
    key: "feeTarget",
    env: "OTSFED_FEE_TARGET",
    flag: "--fee-target",
    help: `estimatesmartfee target for a stamp's first feerate, blocks (default ${defaultStamperOptions.confTarget})`,
    // 1008 blocks is the longest target estimatesmartfee accepts.
    apply: (o, v) => void (o.confTarget = integer(v, 1, 1008)),
  },
  {
    key: "fallbackFeerate",
    env: "OTSFED_FALLBACK_FEERATE",
    flag: "--fallback-feerate",
    help: `first feerate when the node has no estimate, sat/vB (default ${defaultStamperOptions.fallbackFeeRate})`,
    apply: (o, v) => void (o.fallbackFeeRate = decimal(v, 0.1, 10_000)),
  },
  {
    key: "maxFeerate",
    env: "OTSFED_MAX_FEERATE",
    flag: "--max-feerate",
    help: `highest feerate a stamp may pay, reached at the fee deadline, sat/vB (default ${defaultStamperOptions.fee.maxFeeRate})`,
    apply: (o, v) => void (o.fee.maxFeeRate = decimal(v, 1, 10_000)),
  },
  {
    key: "maxFee",
    env: "OTSFED_MAX_FEE",
    flag: "--max-fee",
    help: `highest fee one stamp transaction may pay, satoshis (default ${defaultStamperOptions.fee.maxFeeSats})`,
    apply: (o, v) => void (o.fee.maxFeeSats = BigInt(integer(v, 1_000, 100_000_000))),
  },
  {
    key: "feeDeadline",
    env: "OTSFED_FEE_DEADLINE",
    flag: "--fee-deadline",
    help: `blocks after a stamp's first broadcast by which its feerate reaches the maximum (default ${defaultStamperOptions.fee.deadlineBlocks})`,
    apply: (o, v) => void (o.fee.deadlineBlocks = integer(v, 1, 2016)),
  },
  {
    key: "incrementalRelayFeerate",
    env: "OTSFED_INCREMENTAL_RELAY_FEERATE",
    flag: "--incremental-relay-feerate",
    help: `the Bitcoin node's -incrementalrelayfee, sat/vB: 1 before Core 30, 0.1 since (default ${defaultStamperOptions.fee.incrementalRelayFeeRate})`,
    apply: (o, v) => void (o.fee.incrementalRelayFeeRate = decimal(v, 0.1, 100)),
  },
  {
    key: "bitcoinPollInterval",
    env: "OTSFED_BITCOIN_POLL_INTERVAL",
    flag: "--bitcoin-poll-interval",
    help: `how often the Bitcoin node is asked for new blocks, e.g. 500ms, 2s (default ${durationValue(defaultStamperOptions.pollIntervalMs)})`,
    apply: (o, v) => void (o.pollIntervalMs = parseDuration(v, 100, 600_000)),
  },
];
