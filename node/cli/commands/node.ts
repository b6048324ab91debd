/**
 * `otsfed node`: run a calendar node as a daemon. Options come from
 * defaults < --config FILE < OTSFED_* < flags (node/options.ts). SIGTERM and
 * SIGINT stop it gracefully: stop accepting, finish and fsync every accepted
 * digest's round, answer them, close storage, exit 0.
 */
import type {Command} from "../command.ts";
import {coreRpcBackendFromOptions} from "../../bitcoin/core-rpc.ts";
import {systemClock} from "../../clock.ts";
import {createPinoLogger} from "../../logger.ts";
import {CalendarNode} from "../../node.ts";
import {checkBitcoinCredentials} from "../../bitcoin/options.ts";
import {optionsHelp, resolveNodeOptions} from "../../options.ts";
import type {NodeOptions} from "../../options.ts";

export const nodeCommand: Command = {
  name: "node",
  usage: "node --data-dir DIR [--listen HOST:PORT] [--url URL] [--config FILE] [...]",
  summary: "run an OpenTimestamps calendar node (otsfed node --help-options lists every setting)",
  async run(args, io) {
    if (args.includes("--help-options")) {
      io.stdout(optionsHelp());
      return 0;
    }
    // Every option is validated here, before anything is created in the data dir;
    // a refusal (OptionsError) is a usage error, exit 2, printed by main.ts.
    const opts: NodeOptions = await resolveNodeOptions(args, process.env);
    checkBitcoinCredentials(opts.bitcoin);
    const logger = createPinoLogger(opts.logLevel);
    const bitcoin = coreRpcBackendFromOptions(opts.bitcoin, logger.child({module: "bitcoin"}));
    const node = await CalendarNode.init(opts, {logger, clock: systemClock, bitcoin});
    await node.start();
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
    });
    logger.info("stopping", {signal});
    // A second signal while stopping is reported, not obeyed: the round in flight must finish.
    const again = (s: NodeJS.Signals): void => logger.warn("already stopping; waiting for the last round to be durable", {signal: s});
    process.on("SIGTERM", again);
    process.on("SIGINT", again);
    await node.stop();
    bitcoin?.close();
    return 0;
  },
};
