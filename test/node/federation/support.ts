/**
 * Federations of in-process nodes on loopback for tests: each node has its
 * own data dir, HTTP port and libp2p port (chosen free up front, since the
 * definition every member holds names them), one shared definition.
 */
import {createServer} from "node:net";
import type {BitcoinBackend} from "../../../node/bitcoin/backend.ts";
import {systemClock} from "../../../node/clock.ts";
import type {FederationDefinition} from "../../../node/federation/definition.ts";
import {loadOrCreateIdentity} from "../../../node/identity.ts";
import {nullLogger} from "../../../node/logger.ts";
import type {Logger} from "../../../node/logger.ts";
import {CalendarNode} from "../../../node/node.ts";
import type {NodeOptions} from "../../../node/options.ts";
import {sleep} from "../../../node/lifecycle.ts";
import {removeDir, tempDir, testOptions} from "../calendar/support.ts";

/** A free TCP port on 127.0.0.1 (closed again at once; the caller binds it soon after). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as {port: number}).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export type TestMember = {dataDir: string; peerId: string; httpPort: number; p2pPort: number; url: string; opts: NodeOptions};

/** Data dirs, identities and ports for `n` members, and the definition naming them. */
export async function planFederation(n: number, name = "test", patch: (o: NodeOptions, i: number) => void = () => {}): Promise<{def: FederationDefinition; members: TestMember[]}> {
  const members: TestMember[] = [];
  for (let i = 0; i < n; i++) {
    const dataDir = await tempDir(`otsfed-fed${i}-`);
    const {identity} = await loadOrCreateIdentity(dataDir);
    const httpPort = await freePort();
    const p2pPort = await freePort();
    const url = `http://127.0.0.1:${httpPort}`;
    const opts = testOptions(dataDir, (o) => {
      o.http.listen = `127.0.0.1:${httpPort}`;
      o.http.url = url;
      o.journal.segmentBytes = 64 * 1024;
      o.aggregator.roundIntervalMs = 0;
      o.federation.p2pListen = [`/ip4/127.0.0.1/tcp/${p2pPort}`];
      patch(o, i);
    });
    members.push({dataDir, peerId: identity.peerId, httpPort, p2pPort, url, opts});
  }
  const def: FederationDefinition = {version: 1, name, members: members.map((m, rank) => ({calendarId: m.peerId, url: m.url, p2p: [`/ip4/127.0.0.1/tcp/${m.p2pPort}`], rank}))};
  return {def, members};
}

export const fastTimings = {headIntervalMs: 300, probeIntervalMs: 1_000};

export async function startMember(m: TestMember, def: FederationDefinition, bitcoin: BitcoinBackend | null = null, logger: Logger = nullLogger): Promise<CalendarNode> {
  const node = await CalendarNode.init(m.opts, {logger, clock: systemClock, bitcoin, federation: def, federationTimings: fastTimings});
  await node.start();
  return node;
}

/** Wait until `cond()` holds, polling; throws with `what` when `signal` aborts first. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, signal: AbortSignal, everyMs = 20): Promise<void> {
  while (!(await cond())) {
    if (signal.aborted) throw new Error(`gave up waiting for ${what}`);
    await sleep(everyMs, signal).catch(() => {});
  }
}

export async function stopAll(nodes: Array<CalendarNode | null>, members: TestMember[]): Promise<void> {
  for (const n of nodes) await n?.stop().catch(() => {});
  for (const m of members) await removeDir(m.dataDir);
}
