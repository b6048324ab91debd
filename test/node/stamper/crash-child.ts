/**
 * A calendar node for crash.test.ts, in its own process so that the test can
 * SIGKILL it in the middle of a stamping cycle and start it again.
 *
 *   node test/node/stamper/crash-child.ts '{"dataDir":…,"rpcUrl":…,"killAt":"version-saved","armFile":…}'
 *
 * With `killAt`, the process SIGKILLs itself the first time the stamper
 * reports that phase — once `armFile` exists, when one is given: the test
 * creates it just before the block that must bring a replacement, so that
 * an earlier version cannot trigger the kill. Without `killAt` it runs until
 * SIGTERM, stops gracefully and exits 0. On stdout: `{"ready":true,"url":…}`
 * once listening, and `{"killing":phase}` just before a kill. Logs go to
 * stderr.
 */
import {existsSync, writeSync} from "node:fs";
import {pino} from "pino";
import {coreRpcBackendFromOptions} from "../../../node/bitcoin/core-rpc.ts";
import {systemClock} from "../../../node/clock.ts";
import {createPinoLogger} from "../../../node/logger.ts";
import {CalendarNode} from "../../../node/node.ts";
import {defaultNodeOptions} from "../../../node/options.ts";
import {defaultFeeScheduleOptions} from "../../../node/anchor/fee-schedule.ts";
import type {StamperPhase} from "../../../node/stamper/stamper.ts";

/** What the test passes as the only argument (JSON). */
export type CrashChildArgs = {dataDir: string; rpcUrl: string; killAt: StamperPhase | null; armFile: string | null};

const args = JSON.parse(process.argv[2] ?? "{}") as CrashChildArgs;

/** One line on stdout, written synchronously so it is out before a SIGKILL. */
function say(o: Record<string, unknown>): void {
  writeSync(1, `${JSON.stringify(o)}\n`);
}

function onStamperPhase(phase: StamperPhase): void {
  if (phase !== args.killAt || (args.armFile !== null && !existsSync(args.armFile))) return;
  say({killing: phase});
  process.kill(process.pid, "SIGKILL");
}

const opts = defaultNodeOptions();
opts.dataDir = args.dataDir;
opts.http.listen = "127.0.0.1:0";
opts.bitcoin.rpcUrl = args.rpcUrl;
opts.stamper = {intervalMs: 0, confirmations: 2, pollIntervalMs: 50, confTarget: 2, fallbackFeeRate: 2, fee: {...defaultFeeScheduleOptions}};

const logger = createPinoLogger("info", pino.destination({dest: 2, sync: true}));
try {
  const bitcoin = coreRpcBackendFromOptions(opts.bitcoin);
  const node = await CalendarNode.init(opts, {logger, clock: systemClock, bitcoin, ...(args.killAt ? {onStamperPhase} : {})});
  const {url} = await node.start();
  say({ready: true, url});
  await new Promise<void>((resolve) => process.once("SIGTERM", () => resolve()));
  await node.stop();
  bitcoin?.close();
  process.exitCode = 0;
} catch (e) {
  // The test reads this line: a refusal to start must name what is wrong.
  process.stderr.write(`crash-child: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
