import {pino} from "pino";
import type {Command} from "../command.ts";
import {CliError} from "../command.ts";
import {parseArgs} from "./args.ts";
import {systemClock} from "../../clock.ts";
import {createPinoLogger, isLogLevel} from "../../logger.ts";
import {defaultDevnetOptions, Devnet} from "../../devnet.ts";
import {startDevnetAggregator} from "../../devnet-aggregator.ts";
import {FederatedDevnet} from "../../devnet-federation.ts";
import type {FederatedDevnetInfo} from "../../devnet-federation.ts";

/** `npm start`'s federation: three members, each its own process. */
export const DEFAULT_DEVNET_NODES = 3;

/** What a person reads once a federated devnet serves: every node, and how to stamp at one and upgrade from another. */
export function federatedDevnetInstructions(info: FederatedDevnetInfo, blockIntervalMs: number, aggregator: string | null): string {
  const [a, b] = info.nodes as [FederatedDevnetInfo["nodes"][number], FederatedDevnetInfo["nodes"][number]];
  const seconds = blockIntervalMs / 1000;
  return [
    `otsfed devnet: a federation of ${info.nodes.length} calendars, each in its own process, on the SIMULATED Bitcoin regtest chain (not Bitcoin).`,
    ...info.nodes.map((n, i) => `  node ${i}: ${n.url}   pid ${n.pid}   p2p ${n.p2p.join(" ")}   data ${n.dataDir}`),
    ...(aggregator ? [`  aggregator: ${aggregator}   (in front of every node)`] : []),
    `  simulated chain: ${info.bitcoinRpc}   (bitcoind JSON-RPC dialect, a block every ${seconds} s)`,
    `  federation definition: ${info.federation}`,
    "",
    `Every node mirrors every other's journal and answers for all of them. Each stamps its own calendar every few seconds; a proof completes at 2 confirmations (about ${2 * seconds} s).`,
    "",
    "Stamp at node 0, upgrade from node 1 (with the reference client, pip install opentimestamps-client):",
    `  ots stamp -c ${a.url} -m 1 FILE`,
    `  ots upgrade -c ${b.url} FILE.ots`,
    `  ots --whitelist ${b.url} --bitcoin-node ${info.bitcoinRpc} verify FILE.ots`,
    `Kill node 0 (kill ${a.pid}) and node 1 still answers for its commitments: ${b.url}/timestamp/<commitment>`,
    "",
    "With otsfed:",
    "  npx otsfed info FILE.ots",
    `  npx otsfed verify --bitcoin-rpc ${info.bitcoinRpc} FILE.ots`,
    "",
    "Ctrl-C stops everything.",
  ].join("\n");
}

/**
 * What a person reads once the devnet serves: the URLs and commands to paste,
 * with the real URLs filled in. The reference client (python
 * opentimestamps-client, PROTOCOL-NOTES §4) needs `-m 1` to stamp with a
 * single calendar, and upgrades only from whitelisted calendars or with
 * `upgrade -c URL`; `--whitelist` and `--bitcoin-node` are global options, so
 * they come before the subcommand, and `--bitcoin-node` takes bitcoind's RPC
 * URL with the user and password in it, as the simulated chain's URL has.
 */
export function devnetInstructions(calendar: string, bitcoinRpc: string, dataDir: string, blockIntervalMs: number, aggregator: string | null = null): string {
  const seconds = blockIntervalMs / 1000;
  // Through the aggregator, proofs still name the calendar: stamp there, upgrade and verify at the calendar.
  const aggregatorLines = aggregator
    ? ["", "Through the stand-alone aggregator (one round at a time to the calendar; upgrade from the calendar as above):", `  ots stamp -c ${aggregator} -m 1 FILE`]
    : [];
  return [
    "otsfed devnet: running on the SIMULATED Bitcoin regtest chain (not Bitcoin).",
    `  calendar:        ${calendar}   (status page: ${calendar}/)`,
    ...(aggregator ? [`  aggregator:      ${aggregator}   (status page: ${aggregator}/)`] : []),
    `  simulated chain: ${bitcoinRpc}   (bitcoind JSON-RPC dialect, a block every ${seconds} s)`,
    `  data:            ${dataDir}`,
    "",
    `The calendar stamps every few seconds; a proof completes once its stamp has 2 confirmations (2 blocks, about ${2 * seconds} s).`,
    "",
    "With the reference client (pip install opentimestamps-client):",
    `  ots stamp -c ${calendar} -m 1 FILE`,
    `  ots --whitelist ${calendar} upgrade FILE.ots        # or: ots upgrade -c ${calendar} FILE.ots`,
    `  ots --whitelist ${calendar} --bitcoin-node ${bitcoinRpc} verify FILE.ots`,
    "  (a plain 'ots upgrade FILE.ots' skips this calendar: it is not on the client's default whitelist)",
    ...aggregatorLines,
    "",
    "With otsfed:",
    "  npx otsfed info FILE.ots",
    `  npx otsfed verify --bitcoin-rpc ${bitcoinRpc} FILE.ots`,
    "",
    "Ctrl-C stops everything.",
  ].join("\n");
}

/**
 * `otsfed devnet [--data-dir DIR] [--block-interval MS] [--aggregator] [--json]`:
 * a local network on 127.0.0.1 over the SIMULATED Bitcoin chain, with
 * `--aggregator` a stand-alone aggregator in front of its calendar. Prints
 * the URLs and copy-paste commands, or with `--json` one line
 * `{"event":"ready","calendars":[…],"bitcoinRpc":"…"}` (and `"aggregator":"…"`)
 * once everything serves.
 */
export const devnetCommand: Command = {
  name: "devnet",
  usage: "devnet [--nodes N] [--data-dir DIR] [--block-interval MS] [--aggregator] [--json] [--log-level LEVEL]",
  summary: `run a local devnet on the simulated Bitcoin chain: N calendars (default ${DEFAULT_DEVNET_NODES}, what npm start runs) in a federation, each in its own process; --nodes 1 runs one calendar in this process; --aggregator adds a stand-alone aggregator in front`,
  async run(args, io) {
    const {positional, flags} = parseArgs(args, {nodes: "string", "data-dir": "string", "block-interval": "string", aggregator: "boolean", json: "boolean", "log-level": "string"});
    const nodes = flags.nodes === undefined ? DEFAULT_DEVNET_NODES : Number(flags.nodes);
    if (!Number.isSafeInteger(nodes) || nodes < 1 || nodes > 16) throw new CliError("--nodes must be a whole number from 1 to 16");
    if (positional.length > 0) throw new CliError(`unexpected argument '${positional[0]}'`);
    const blockIntervalMs = flags["block-interval"] === undefined ? defaultDevnetOptions.blockIntervalMs : Number(flags["block-interval"]);
    if (!Number.isSafeInteger(blockIntervalMs) || blockIntervalMs < 100) throw new CliError("--block-interval must be a whole number of milliseconds, at least 100");
    const level = flags["log-level"] ?? (flags.json ? "warn" : "info");
    if (!isLogLevel(level)) throw new CliError(`--log-level must be a log level, got '${level}'`);
    // Logs go to stderr so that stdout carries only what people and scripts read.
    const logger = createPinoLogger(level, pino.destination(2));
    if (nodes > 1) return runFederated(nodes, flags["data-dir"] ?? null, blockIntervalMs, level, flags.aggregator === true, flags.json === true, logger, io);
    const devnet = new Devnet({...defaultDevnetOptions, dataDir: flags["data-dir"] ?? null, blockIntervalMs, aggregator: flags.aggregator === true}, {logger, clock: systemClock});
    const info = await devnet.start();
    const cal = info.calendars[0] as string;
    if (flags.json) io.stdout(JSON.stringify({event: "ready", calendars: info.calendars, bitcoinRpc: info.bitcoinRpc, ...(info.aggregator ? {aggregator: info.aggregator} : {})}));
    else {
      io.stdout(devnetInstructions(cal, info.bitcoinRpc, info.dataDir, blockIntervalMs, info.aggregator));
    }
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    await devnet.stop();
    return 0;
  },
};

async function runFederated(nodes: number, dataDir: string | null, blockIntervalMs: number, level: string, withAggregator: boolean, json: boolean, logger: ReturnType<typeof createPinoLogger>, io: {stdout: (s: string) => void}): Promise<number> {
  const devnet = new FederatedDevnet({nodes, dataDir, blockIntervalMs, host: "127.0.0.1", logLevel: level}, {logger, clock: systemClock});
  let aggregator: Awaited<ReturnType<typeof startDevnetAggregator>> | null = null;
  try {
    const info = await devnet.start();
    if (withAggregator) aggregator = await startDevnetAggregator(info.calendars, {host: "127.0.0.1", port: 0}, {logger: logger.child({aggregator: 1}), clock: systemClock});
    if (json) {
      io.stdout(JSON.stringify({event: "ready", calendars: info.calendars, bitcoinRpc: info.bitcoinRpc, nodes: info.nodes.map((n) => ({url: n.url, p2p: n.p2p, pid: n.pid, dataDir: n.dataDir, peerId: n.peerId})), federation: info.federation, ...(aggregator ? {aggregator: aggregator.url} : {})}));
    } else io.stdout(federatedDevnetInstructions(info, blockIntervalMs, aggregator?.url ?? null));
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
  } finally {
    await aggregator?.stop();
    await devnet.stop();
  }
  return 0;
}
