import {pino} from "pino";
import type {Command} from "../command.ts";
import {CliError} from "../command.ts";
import {parseArgs} from "./args.ts";
import {systemClock} from "../../clock.ts";
import {createPinoLogger, isLogLevel} from "../../logger.ts";
import {defaultDevnetOptions, Devnet} from "../../devnet.ts";

/**
 * `otsfed devnet [--data-dir DIR] [--block-interval MS] [--json]`: a local
 * network on 127.0.0.1 over the SIMULATED Bitcoin chain. Prints the URLs and
 * copy-paste commands, or with `--json` one line
 * `{"event":"ready","calendars":[…],"bitcoinRpc":"…"}` once everything serves.
 */
export const devnetCommand: Command = {
  name: "devnet",
  usage: "devnet [--data-dir DIR] [--block-interval MS] [--json] [--log-level LEVEL]",
  summary: "run a local devnet: a calendar node on the simulated Bitcoin chain (the default of npm start)",
  async run(args, io) {
    const {positional, flags} = parseArgs(args, {"data-dir": "string", "block-interval": "string", json: "boolean", "log-level": "string"});
    if (positional.length > 0) throw new CliError(`unexpected argument '${positional[0]}'`);
    const blockIntervalMs = flags["block-interval"] === undefined ? defaultDevnetOptions.blockIntervalMs : Number(flags["block-interval"]);
    if (!Number.isSafeInteger(blockIntervalMs) || blockIntervalMs < 100) throw new CliError("--block-interval must be a whole number of milliseconds, at least 100");
    const level = flags["log-level"] ?? (flags.json ? "warn" : "info");
    if (!isLogLevel(level)) throw new CliError(`--log-level must be a log level, got '${level}'`);
    // Logs go to stderr so that stdout carries only what people and scripts read.
    const logger = createPinoLogger(level, pino.destination(2));
    const devnet = new Devnet({...defaultDevnetOptions, dataDir: flags["data-dir"] ?? null, blockIntervalMs}, {logger, clock: systemClock});
    const info = await devnet.start();
    const cal = info.calendars[0] as string;
    if (flags.json) io.stdout(JSON.stringify({event: "ready", calendars: info.calendars, bitcoinRpc: info.bitcoinRpc}));
    else {
      io.stdout(
        [
          "otsfed devnet: running on the SIMULATED Bitcoin regtest chain (not Bitcoin).",
          `  calendar:        ${cal}   (status page: ${cal}/)`,
          `  simulated chain: ${info.bitcoinRpc}   (bitcoind JSON-RPC dialect, a block every ${blockIntervalMs / 1000} s)`,
          `  data:            ${info.dataDir}`,
          "",
          "Stamp a file with the reference client, then inspect and verify it:",
          `  ots stamp -c ${cal} -m 1 FILE`,
          `  ots upgrade -c ${cal} FILE.ots`,
          `  ots verify --bitcoin-node ${info.bitcoinRpc} FILE.ots`,
          "  npx otsfed info FILE.ots",
          `  npx otsfed verify FILE.ots --bitcoin-rpc ${info.bitcoinRpc}`,
          "",
          "Note: the stamper is not built yet, so proofs stay 'Pending confirmation in Bitcoin blockchain'.",
          "Ctrl-C stops everything.",
        ].join("\n"),
      );
    }
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    await devnet.stop();
    return 0;
  },
};
