/**
 * A calendar node stamping on the SIMULATED chain, for the stamper's
 * scenario and end-to-end tests: the chain and its bitcoind-dialect JSON-RPC
 * server live in the test process, the node talks to them through the same
 * Core RPC backend operators use, and the test mines blocks by hand.
 */
import {join} from "node:path";
import {toHex} from "../../../protocol/ots/bytes.ts";
import type {SimulatedChain} from "../../../node/bitcoin/sim/chain.ts";
import type {SimulatedWallet} from "../../../node/bitcoin/sim/devnet-wallet.ts";
import type {SimulatedRpcServer} from "../../../node/bitcoin/sim/rpc-server.ts";
import {SimulatedBitcoin} from "../../../node/bitcoin/sim/simulated-bitcoin.ts";
import {CoreRpcBackend} from "../../../node/bitcoin/core-rpc.ts";
import {keyPairFromSeed, p2wpkhScript} from "../../../node/bitcoin/signing.ts";
import {systemClock} from "../../../node/clock.ts";
import {nullLogger} from "../../../node/logger.ts";
import {CalendarNode} from "../../../node/node.ts";
import type {StamperOptions} from "../../../node/stamper/options.ts";
import {defaultStamperOptions} from "../../../node/stamper/options.ts";
import {postDigest, proofLeaf, removeDir, tempDir, testOptions} from "../calendar/support.ts";

/** The script the tests' blocks pay (SimulatedBitcoin's miner for this seed). */
export const MINER = p2wpkhScript(keyPairFromSeed("stamper tests miner").publicKey);

export type Harness = {
  dir: string;
  chain: SimulatedChain;
  rpc: SimulatedRpcServer;
  wallet: SimulatedWallet;
  node: CalendarNode;
  url: string;
  /** The calendar's stamping output script. */
  script: Uint8Array;
  /** Send `sats` to the calendar's stamping address and confirm it. */
  fund(sats: bigint): void;
  /** Restart the node on the same data dir (a clean stop first). */
  restart(): Promise<void>;
  close(): Promise<void>;
};

export type HarnessOptions = {stamper?: Partial<StamperOptions>; fundSats?: bigint | null};

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = await tempDir("otsfed-stamper-");
  const bitcoin = await SimulatedBitcoin.start({minerSeed: "stamper tests miner"}, {clock: systemClock});
  const {chain, wallet, rpc} = bitcoin;
  const stamper: StamperOptions = {...defaultStamperOptions, intervalMs: 0, confirmations: 3, pollIntervalMs: 40, ...opts.stamper, fee: {...defaultStamperOptions.fee, ...opts.stamper?.fee}};
  const nodeOpts = testOptions(join(dir, "data"), (o) => {
    o.bitcoin.rpcUrl = rpc.url;
    o.stamper = stamper;
  });
  // The node reaches the simulated chain through the Bitcoin Core backend operators use.
  const backend = new CoreRpcBackend({url: rpc.url});
  const boot = async (): Promise<{node: CalendarNode; url: string}> => {
    const node = await CalendarNode.init(nodeOpts, {logger: nullLogger, clock: systemClock, bitcoin: backend});
    const {url} = await node.start();
    await node.bitcoin?.funding.refresh();
    return {node, url};
  };
  let {node, url} = await boot();
  const address = node.bitcoin?.funding.bitcoinStatus.address;
  if (!address) throw new Error("the node did not learn its stamping address");
  const script = SimulatedBitcoin.scriptOf(address);
  const fund = (sats: bigint): void => bitcoin.fund(address, sats);
  const initial = opts.fundSats === undefined ? 10_000_000n : opts.fundSats;
  if (initial !== null) fund(initial);
  const h: Harness = {
    fund,
    dir,
    chain,
    rpc,
    wallet,
    node,
    url,
    script,
    async restart() {
      await h.node.stop();
      ({node, url} = await boot());
      h.node = node;
      h.url = url;
    },
    async close() {
      await h.node.stop().catch(() => {});
      backend.close();
      await rpc.stop().catch(() => {});
      await removeDir(dir);
    },
  };
  return h;
}

/** Submit a digest; returns the 44-byte commitment its partial proof ends at. */
export async function submit(url: string, digest: Uint8Array): Promise<Uint8Array> {
  const r = await postDigest(url, digest);
  if (r.status !== 200) throw new Error(`POST /digest: ${r.status}`);
  return proofLeaf(r.body, digest).msg;
}

/** GET /timestamp/<hex>: status and body. */
export async function fetchTimestamp(url: string, msg: Uint8Array): Promise<{status: number; body: Uint8Array; text: string}> {
  const r = await fetch(`${url}/timestamp/${toHex(msg)}`);
  const body = new Uint8Array(await r.arrayBuffer());
  return {status: r.status, body, text: new TextDecoder().decode(body)};
}

export async function statusJson(url: string): Promise<Record<string, unknown>> {
  const r = await fetch(`${url}/`, {headers: {Accept: "application/json"}});
  return (await r.json()) as Record<string, unknown>;
}

export async function healthz(url: string): Promise<{status: number; text: string}> {
  const r = await fetch(`${url}/healthz`);
  return {status: r.status, text: await r.text()};
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `check` (poking the stamper each time) until it returns a value, or throw after `ms`. */
export async function until<T>(what: string, ms: number, check: () => Promise<T | null | undefined | false>, node?: CalendarNode): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown = null;
  while (Date.now() < end) {
    node?.bitcoin?.stamper.poke();
    try {
      const v = await check();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** The node's unconfirmed versions (from its status), oldest first. */
export function inFlightVersions(node: CalendarNode): Array<{txid: string; feeRate: number; feeSats: number; leaves: number}> {
  return node.bitcoin?.stamper.report().inFlight.flatMap((c) => c.versions) ?? [];
}

/** Wait until the node has broadcast at least `n` versions of its current transaction; returns their display txids. */
export async function waitForVersions(h: Harness, n: number, ms = 10_000): Promise<string[]> {
  return until(`${n} broadcast version(s)`, ms, async () => {
    const v = inFlightVersions(h.node);
    return v.length >= n && h.chain.mempoolEntry(v[n - 1]!.txid) !== null ? v.map((x) => x.txid) : null;
  }, h.node);
}
