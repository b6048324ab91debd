/**
 * The multi-node devnet (`otsfed devnet --nodes N`, `npm start` with 3):
 * the SIMULATED regtest chain in this process, and N calendar nodes in a
 * federation, EACH IN ITS OWN CHILD PROCESS (`otsfed node --federation …`,
 * exactly what an operator runs) with its own data dir, HTTP port and
 * libp2p port, so one can be killed (`kill <pid>`) to see the others keep
 * answering its commitments. Each stamps its own calendar through the
 * chain's JSON-RPC like today's single devnet; each node's stamping
 * address is funded from the simulated wallet before the devnet reports
 * ready.
 *
 *   <base>/federation.json     the definition every member holds
 *   <base>/node<i>/            node i's data dir
 *
 * A child that dies is logged and left dead (the others run on); stop()
 * sends SIGTERM to every live child (SIGKILL after a grace period) and stops
 * the chain.
 */
import {spawn} from "node:child_process";
import type {ChildProcess} from "node:child_process";
import {mkdir, mkdtemp, rm, writeFile} from "node:fs/promises";
import {createServer} from "node:net";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {SimulatedBitcoin} from "./bitcoin/sim/simulated-bitcoin.ts";
import type {Clock} from "./clock.ts";
import {encodeFederationDefinition} from "./federation/definition.ts";
import type {FederationDefinition} from "./federation/definition.ts";
import {loadOrCreateIdentity} from "./identity.ts";
import type {Logger} from "./logger.ts";
import {devnetStamperOptions} from "./stamper/options.ts";

const OTSFED = fileURLToPath(new URL("./cli/otsfed.ts", import.meta.url));
/** Coins the devnet wallet sends each calendar's stamping address at start. */
const CALENDAR_FUNDING_SATS = 10_000_000n;
/** How long a child may take to stop after SIGTERM before it is killed. */
const STOP_GRACE_MS = 15_000;
const START_TIMEOUT_MS = 120_000;
/** pino's numeric levels of our log level names (node/logger.ts maps verbose to 25). */
const PINO_LEVELS: Record<string, number> = {error: 50, warn: 40, info: 30, verbose: 25, debug: 20};

export type FederatedDevnetOptions = {
  nodes: number;
  /** Base directory; null: a fresh temporary directory, removed at stop. */
  dataDir: string | null;
  blockIntervalMs: number;
  host: string;
  /** Children's log lines at this level or above go on to our stderr (they log at info at least: the devnet reads their start). */
  logLevel: string;
};

export type DevnetNode = {url: string; p2p: string[]; pid: number; dataDir: string; peerId: string};
export type FederatedDevnetInfo = {calendars: string[]; bitcoinRpc: string; dataDir: string; federation: string; nodes: DevnetNode[]};

type Child = {proc: ChildProcess; node: DevnetNode; exited: Promise<void>; lines: Array<Record<string, unknown>>; waiters: Array<{msg: string; resolve: (o: Record<string, unknown>) => void}>; alive: boolean};

async function freePort(host: string): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, host, resolve));
  const port = (srv.address() as {port: number}).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export class FederatedDevnet {
  private readonly opts: FederatedDevnetOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private bitcoin: SimulatedBitcoin | null = null;
  private children: Child[] = [];
  private ownedDir: string | null = null;
  private stopping = false;

  constructor(opts: FederatedDevnetOptions, modules: {logger: Logger; clock: Clock}) {
    this.opts = opts;
    this.logger = modules.logger;
    this.clock = modules.clock;
  }

  async start(): Promise<FederatedDevnetInfo> {
    const {host} = this.opts;
    const base = this.opts.dataDir ?? (this.ownedDir = await mkdtemp(join(tmpdir(), "otsfed-devnet-")));
    const bitcoin = (this.bitcoin = await SimulatedBitcoin.start({miningIntervalMs: this.opts.blockIntervalMs, minerSeed: "devnet miner"}, {clock: this.clock, logger: this.logger}));
    const plan: Array<{dataDir: string; peerId: string; url: string; listen: string; p2p: string}> = [];
    for (let i = 0; i < this.opts.nodes; i++) {
      const dataDir = join(base, `node${i}`);
      await mkdir(dataDir, {recursive: true});
      const {identity} = await loadOrCreateIdentity(dataDir);
      const port = await freePort(host);
      const p2pPort = await freePort(host);
      plan.push({dataDir, peerId: identity.peerId, url: `http://${host}:${port}`, listen: `${host}:${port}`, p2p: `/ip4/${host}/tcp/${p2pPort}`});
    }
    const def: FederationDefinition = {version: 1, name: "devnet", members: plan.map((p, rank) => ({calendarId: p.peerId, url: p.url, p2p: [p.p2p], rank}))};
    const federation = join(base, "federation.json");
    await writeFile(federation, encodeFederationDefinition(def));
    const st = devnetStamperOptions;
    for (const [i, p] of plan.entries()) {
      const args = [OTSFED, "node", "--data-dir", p.dataDir, "--listen", p.listen, "--url", p.url, "--federation", federation, "--p2p-listen", p.p2p, "--bitcoin-rpc", bitcoin.url];
      args.push("--stamp-interval", `${st.intervalMs}ms`, "--confirmations", String(st.confirmations), "--bitcoin-poll-interval", `${st.pollIntervalMs}ms`, "--fee-deadline", String(st.fee.deadlineBlocks), "--log-level", this.childLevel());
      this.children.push(this.spawn(i, args, {url: p.url, p2p: [`${p.p2p}/p2p/${p.peerId}`], pid: 0, dataDir: p.dataDir, peerId: p.peerId}));
    }
    // Ready: every node listens and knows its stamping address, which is funded (confirmed: the stamper spends confirmed coins only).
    for (const c of this.children) {
      const started = await this.waitLine(c, "calendar node started");
      c.node.url = String(started.url ?? c.node.url);
      const funding = await this.waitLine(c, "stamping funds address");
      bitcoin.fund(String(funding.address), CALENDAR_FUNDING_SATS);
    }
    bitcoin.startMining();
    return {calendars: this.children.map((c) => c.node.url), bitcoinRpc: bitcoin.url, dataDir: base, federation, nodes: this.children.map((c) => ({...c.node}))};
  }

  private spawn(i: number, args: string[], node: DevnetNode): Child {
    const proc = spawn(process.execPath, args, {stdio: ["ignore", "pipe", "pipe"]});
    node.pid = proc.pid as number;
    const child: Child = {proc, node, lines: [], waiters: [], alive: true, exited: Promise.resolve()};
    child.exited = new Promise((resolve) =>
      proc.on("close", (code, signal) => {
        child.alive = false;
        if (!this.stopping) this.logger.warn("devnet: a calendar node exited; the others keep running", {node: i, pid: node.pid, code, signal});
        resolve();
      }),
    );
    let buf = "";
    const shown = PINO_LEVELS[this.opts.logLevel] ?? 30;
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let obj: Record<string, unknown>;
        try {
          obj = JSON.parse(text) as Record<string, unknown>;
        } catch {
          continue;
        }
        // Each node's JSON log goes on to our stderr (stdout carries only what people and scripts read).
        if ((PINO_LEVELS[String(obj.level)] ?? 30) >= shown) process.stderr.write(`${text}\n`);
        if (child.lines.length < 1000) child.lines.push(obj);
        child.waiters = child.waiters.filter((w) => (w.msg === obj.msg ? (w.resolve(obj), false) : true));
      }
    });
    proc.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
    return child;
  }

  /** The children log at info unless asked for more (verbose, debug): the devnet reads their start lines. */
  private childLevel(): string {
    return (PINO_LEVELS[this.opts.logLevel] ?? 30) < 30 ? this.opts.logLevel : "info";
  }

  private waitLine(c: Child, msg: string): Promise<Record<string, unknown>> {
    const seen = c.lines.find((l) => l.msg === msg);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`devnet: node ${c.node.pid} did not log "${msg}" within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      c.waiters.push({
        msg,
        resolve: (o) => {
          clearTimeout(t);
          resolve(o);
        },
      });
      void c.exited.then(() => {
        clearTimeout(t);
        reject(new Error(`devnet: node ${c.node.pid} exited before "${msg}"`));
      });
    });
  }

  /** SIGTERM every live node (each finishes its rounds durably), SIGKILL after a grace period; then the chain. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.children.map(async (c) => {
        if (!c.alive) return;
        c.proc.kill("SIGTERM");
        const t = setTimeout(() => c.proc.kill("SIGKILL"), STOP_GRACE_MS);
        await c.exited;
        clearTimeout(t);
      }),
    );
    this.children = [];
    await this.bitcoin?.stop();
    this.bitcoin = null;
    if (this.ownedDir) await rm(this.ownedDir, {recursive: true, force: true});
    this.ownedDir = null;
  }
}
