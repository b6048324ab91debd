/**
 * The calendar's settings: the aggregator's options (type and defaults live
 * here, next to their rows) and the rows for the journal's options, whose
 * type and defaults stay with the journal (journal-store.ts). Aggregated by
 * node/options.ts (STYLE §11).
 */
import type {OptionSpec} from "../config/option-spec.ts";
import {integer, parseDuration} from "../config/values.ts";
import {defaultJournalOptions} from "./journal-store.ts";
import type {JournalOptions} from "./journal-store.ts";

/** How the aggregator paces rounds and bounds its queue. */
export type AggregatorOptions = {
  /** Minimum milliseconds between the starts of two rounds (0: group commit only). */
  roundIntervalMs: number;
  /** Most digests waiting at once; beyond it submissions are refused (HTTP 503). */
  maxQueue: number;
};

/** Pure group commit, and 50,000 digests waiting at most. */
export const defaultAggregatorOptions: AggregatorOptions = {roundIntervalMs: 0, maxQueue: 50_000};

/** The longest round interval accepted (the `ots` client gives up on a reply long before). */
const MAX_ROUND_INTERVAL_MS = 3_600_000;

/** `--round-interval` and `--max-queue`. */
export const aggregatorOptionSpecs: readonly OptionSpec<AggregatorOptions>[] = [
  {
    key: "roundInterval",
    env: "OTSFED_ROUND_INTERVAL",
    flag: "--round-interval",
    help: "minimum time between rounds, e.g. 0, 500ms, 1s (default 0)",
    apply: (o, v) => void (o.roundIntervalMs = parseDuration(v, 0, MAX_ROUND_INTERVAL_MS)),
  },
  {
    key: "maxQueue",
    env: "OTSFED_MAX_QUEUE",
    flag: "--max-queue",
    help: `digests waiting at most before 503 (default ${defaultAggregatorOptions.maxQueue})`,
    apply: (o, v) => void (o.maxQueue = integer(v, 1, 10_000_000)),
  },
];

/** `--segment-bytes`. */
export const journalOptionSpecs: readonly OptionSpec<JournalOptions>[] = [
  {
    key: "segmentBytes",
    env: "OTSFED_SEGMENT_BYTES",
    flag: "--segment-bytes",
    help: `journal segment size (default ${defaultJournalOptions.segmentBytes})`,
    apply: (o, v) => void (o.segmentBytes = integer(v, 4096, 1 << 30)),
  },
];
