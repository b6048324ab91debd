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
import {FederationError, FederationErrorCode, loadFederationDefinition, requireMember, requireMembers} from "../../federation/definition.ts";
import type {FederationDefinition} from "../../federation/definition.ts";
import {loadIdentity} from "../../identity.ts";
import {optionsHelp, resolveNodeOptions} from "../../options.ts";
import type {NodeOptions} from "../../options.ts";

/**
 * The federation the node joins (`--federation FILE`), read and checked
 * before anything is created in the data dir; a refusal names the file and
 * the problem (FederationError, exit 2). A member must be named in it, so
 * its identity exists already (`otsfed federation add-member` created it);
 * a mirror needs members to follow.
 */
async function federationToJoin(opts: NodeOptions): Promise<FederationDefinition | null> {
  const file = opts.federation.file;
  if (file === "") return null;
  const def = await loadFederationDefinition(file);
  requireMembers(def, file);
  if (!opts.federation.mirrorOnly) {
    const identity = await loadIdentity(opts.dataDir);
    if (identity === null) {
      throw new FederationError(
        {code: FederationErrorCode.NOT_MEMBER},
        `${file}: cannot name this node: ${opts.dataDir} has no identity yet (create it with 'otsfed identity --data-dir ${opts.dataDir}', add the node with 'otsfed federation add-member'), or run it as a mirror ('otsfed mirror')`,
      );
    }
    requireMember(def, identity.peerId, file);
  }
  return def;
}

export const nodeCommand: Command = {
  name: "node",
  usage: "node --data-dir DIR [--listen HOST:PORT] [--url URL] [--federation FILE] [--config FILE] [...]",
  summary: "run an OpenTimestamps calendar node (otsfed node --help-options lists every setting)",
  async run(args, io) {
    if (args.includes("--help-options")) {
      io.stdout(optionsHelp());
      return 0;
    }
    // Every option is validated here, before anything is created in the data dir;
    // a refusal (OptionsError, or FederationError for the definition) is a usage error, exit 2, printed by main.ts.
    const opts: NodeOptions = await resolveNodeOptions(args, process.env);
    checkBitcoinCredentials(opts.bitcoin);
    const federation = await federationToJoin(opts);
    const logger = createPinoLogger(opts.logLevel);
    const bitcoin = coreRpcBackendFromOptions(opts.bitcoin, logger.child({module: "bitcoin"}));
    const node = await CalendarNode.init(opts, {logger, clock: systemClock, bitcoin, federation});
    // Listened for before starting: a SIGTERM while the node starts (joining a federation takes a moment) stops it once started, cleanly.
    const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
    });
    await node.start();
    const signal = await stopSignal;
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
