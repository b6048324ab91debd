/**
 * The anchoring engine's options (plain data). The calendar's
 * `StamperOptions` (node/stamper/options.ts) is this type, set by the
 * operator; another user maps its own settings onto it.
 */
import type {FeeScheduleOptions} from "./fee-schedule.ts";

/** What the engine needs to know about timing, confirmations and fees. */
export type AnchorOptions = {
  /** Least time between the first broadcasts of two cycles, ms. Replacements of the cycle in flight happen once per new block regardless. */
  intervalMs: number;
  /** Confirmations (K) after which a version is reported confirmed. */
  confirmations: number;
  /** `estimatesmartfee` target, blocks, for a cycle's first feerate. */
  confTarget: number;
  /** Feerate used when the node has no estimate yet (fresh regtest, devnet), sat/vB. */
  fallbackFeeRate: number;
  /** How fees rise while a transaction waits (maximum feerate, maximum fee, deadline). */
  fee: FeeScheduleOptions;
  /** How often the Bitcoin node is polled for new blocks, ms. */
  pollIntervalMs: number;
};
