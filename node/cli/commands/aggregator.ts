/**
 * `otsfed aggregator`: run a stand-alone aggregation server in front of any
 * OpenTimestamps calendars (node/aggregator-node.ts). Options come from
 * defaults < --config FILE < OTSFED_* < flags (node/aggregator-options.ts).
 * SIGTERM and SIGINT stop it gracefully: stop accepting, submit every
 * accepted digest's round, answer them, exit 0.
 */
import type {Command} from "../command.ts";
import {AggregatorNode} from "../../aggregator-node.ts";
import {aggregatorOptionsHelp, resolveAggregatorOptions} from "../../aggregator-options.ts";
import {systemClock} from "../../clock.ts";
import {createPinoLogger} from "../../logger.ts";

export const aggregatorCommand: Command = {
  name: "aggregator",
  usage: "aggregator --upstream URL [--upstream URL ...] [--min-upstreams M] [--listen HOST:PORT] [--config FILE] [...]",
  summary: "run a stand-alone aggregator: take digests as a calendar does and submit one commitment per round to the upstream calendars (otsfed aggregator --help-options lists every setting)",
  async run(args, io) {
    if (args.includes("--help-options")) {
      io.stdout(aggregatorOptionsHelp());
      return 0;
    }
    // Every option is validated before anything listens; a refusal (OptionsError) is a usage error, exit 2, printed by main.ts.
    const opts = await resolveAggregatorOptions(args, process.env);
    const logger = createPinoLogger(opts.logLevel);
    const aggregator = await AggregatorNode.init(opts, {logger, clock: systemClock});
    await aggregator.start();
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
    });
    logger.info("stopping", {signal});
    // A second signal while stopping is reported, not obeyed: the rounds in flight must be answered.
    const again = (s: NodeJS.Signals): void => logger.warn("already stopping; waiting for the last round's upstreams", {signal: s});
    process.on("SIGTERM", again);
    process.on("SIGINT", again);
    await aggregator.stop();
    return 0;
  },
};
