/**
 * Hostile peers against a real member over loopback libp2p: each attack is
 * refused with its reason, nothing is written, the member keeps serving.
 * The attacker is a real libp2p host; for the attacks that need a member's
 * key it holds member A's identity (A itself is not running: a stolen or
 * misbehaving key), so only the content checks can catch it.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {peerIdFromString} from "@libp2p/peer-id";
import {lpStream} from "@libp2p/utils";
import {encodeHead, encodePiece, encodeEnd, MAX_GOSSIP_MESSAGE_BYTES} from "../../../protocol/federation/wire.ts";
import {genesisChainHash, nextChainHash} from "../../../protocol/journal/chain.ts";
import {checkpointSigningBytes} from "../../../protocol/journal/checkpoint.ts";
import type {Checkpoint} from "../../../protocol/journal/checkpoint.ts";
import {frameSize, RecordKind, writeFrame} from "../../../protocol/journal/record.ts";
import {encodeRound} from "../../../protocol/journal/round.ts";
import {bytesEqual} from "../../../protocol/ots/bytes.ts";
import {nativeSha256} from "../../../node/hash.ts";
import {loadOrCreateIdentity} from "../../../node/identity.ts";
import type {Identity} from "../../../node/identity.ts";
import {sleep} from "../../../node/lifecycle.ts";
import {createP2pHost} from "../../../node/federation/p2p-host.ts";
import type {P2pHost} from "../../../node/federation/p2p-host.ts";
import {Roster} from "../../../node/federation/roster.ts";
import type {CalendarNode} from "../../../node/node.ts";
import {withTimeout} from "../../support/timeout.ts";
import {postDigest, removeDir, tempDir} from "../calendar/support.ts";
import {freePort, planFederation, startMember, stopAll, waitFor} from "./support.ts";

/** `n` ROUND frames of calendar `id` from its genesis, with their chain hashes. */
function rounds(id: Uint8Array, n: number, from: Uint8Array = genesisChainHash(id, nativeSha256)): {frames: Uint8Array; chain: Uint8Array} {
  const payloads = Array.from({length: n}, (_, i) => encodeRound({timeMs: 1_700_000_000_000 + i, leaves: 1, root: randomBytes(32)}));
  const frames = new Uint8Array(payloads.reduce((a, p) => a + frameSize(RecordKind.ROUND, p.length), 0));
  let pos = 0;
  let chain = from;
  for (const p of payloads) {
    const start = pos;
    pos = writeFrame(frames, pos, RecordKind.ROUND, p);
    chain = nextChainHash(chain, frames.subarray(start, pos - 4), nativeSha256);
  }
  return {frames, chain};
}

async function signedHead(identity: Identity, length: number, chainHash: Uint8Array): Promise<Checkpoint> {
  const body = {calendarId: identity.calendarId, length, chainHash};
  return {...body, signature: await identity.sign(checkpointSigningBytes(body))};
}

async function attacker(identity: Identity, roster: Roster, victimAddr: string): Promise<P2pHost> {
  const host = await createP2pHost({identity, listen: [`/ip4/127.0.0.1/tcp/${await freePort()}`], topics: roster.topics});
  await host.start();
  for (const t of roster.topics) host.services.pubsub.subscribe(t);
  await host.dial((await import("@multiformats/multiaddr")).multiaddr(victimAddr));
  return host;
}

const test = suite("federation: hostile peers");

test(
  "forged signature, non-member, oversized, records that do not chain, equivocation, tampered catch-up: each refused with its reason, nothing written, still serving",
  withTimeout(90_000, async (signal) => {
    const {def, members} = await planFederation(2, "hostile");
    const roster = new Roster(def);
    const [ma, mb] = members as [(typeof members)[0], (typeof members)[0]];
    const nodes: Array<CalendarNode | null> = [];
    const hosts: P2pHost[] = [];
    const strangerDir = await tempDir();
    try {
      // B runs; A does not (its key is the attacker's).
      const b = await startMember(mb, def);
      nodes.push(b);
      const a = (await loadOrCreateIdentity(ma.dataDir)).identity;
      const stranger = (await loadOrCreateIdentity(strangerDir)).identity;
      const victim = b.federation!.addresses[0]!;
      const mirror = b.calendars.get(a.calendarId)!;
      const before = {length: mirror.length, chain: mirror.store.chainHash};
      const rejected = (): Record<string, number> => b.federation!.report().rejected;

      const evil = await attacker(a, roster, victim);
      hosts.push(evil);
      const outsider = await attacker(stranger, roster, victim);
      hosts.push(outsider);
      await waitFor("subscriptions known", () => evil.services.pubsub.getSubscribers(roster.recordsTopic).length > 0 && outsider.services.pubsub.getSubscribers(roster.recordsTopic).length > 0, signal, 50);
      const publish = (h: P2pHost, topic: string, data: Uint8Array): Promise<unknown> => h.services.pubsub.publish(topic, data).catch(() => {});

      const genesis = genesisChainHash(a.calendarId, nativeSha256);
      const good = rounds(a.calendarId, 3);
      // 1. A forged signature.
      const forged = {...(await signedHead(a, 3, good.chain)), signature: randomBytes(64)};
      await publish(evil, roster.recordsTopic, encodePiece({fromSeq: 0, prevChain: genesis, frames: good.frames, head: forged}));
      await waitFor("bad-signature", () => rejected()["bad-signature"] === 1, signal);
      // 2. A non-member publishing a valid-looking piece of its own calendar.
      const own = rounds(stranger.calendarId, 2);
      await publish(outsider, roster.recordsTopic, encodePiece({fromSeq: 0, prevChain: genesisChainHash(stranger.calendarId, nativeSha256), frames: own.frames, head: await signedHead(stranger, 2, own.chain)}));
      await waitFor("non-member", () => rejected()["non-member"] === 1, signal);
      // 3. Oversized.
      await publish(evil, roster.recordsTopic, new Uint8Array(MAX_GOSSIP_MESSAGE_BYTES + 1));
      await waitFor("too-large", () => rejected()["too-large"] === 1, signal);
      // 4. Records that do not chain to their (genuinely signed) head: one byte of a root changed after signing.
      const tampered = good.frames.slice();
      tampered[10] = (tampered[10] as number) ^ 1;
      await publish(evil, roster.recordsTopic, encodePiece({fromSeq: 0, prevChain: genesis, frames: tampered, head: await signedHead(a, 3, good.chain)}));
      await waitFor("bad-records", () => rejected()["bad-records"] === 1, signal);
      assert.is(mirror.length, before.length, "nothing written");
      assert.ok(bytesEqual(mirror.store.chainHash, before.chain));
      assert.is((await fetch(`${mb.url}/healthz`)).status, 200);
      // gossipsub refreshes scores on its heartbeat (1 s).
      await waitFor("the sender scored down", () => (b.federation!.host.services.pubsub as unknown as {getScore(peer: string): number}).getScore(a.peerId) < 0, signal, 100);

      // 5. Equivocation: the key signs two different journals of length 3.
      const other = rounds(a.calendarId, 3);
      await publish(evil, roster.headTopic, encodeHead(await signedHead(a, 3, good.chain)));
      await sleep(100);
      await publish(evil, roster.headTopic, encodeHead(await signedHead(a, 3, other.chain)));
      await waitFor("fork evidence", () => b.federation!.report().forks.length === 1, signal);
      const health = await fetch(`${mb.url}/healthz`);
      assert.is(health.status, 503);
      assert.match(await health.text(), /equivocation/);
      const status = (await (await fetch(`${mb.url}/`, {headers: {Accept: "application/json"}})).json()) as {federation: {equivocations: Array<{calendar: string; evidence: string}>}};
      assert.is(status.federation.equivocations[0]?.calendar, a.peerId);
      assert.match(status.federation.equivocations[0]!.evidence, /evidence/);

      // 6. A catch-up reply with a tampered segment: the attacker serves A's journal protocol with altered frames.
      await evil.handle(roster.journalProtocol, async (stream) => {
        const lp = lpStream(stream);
        await lp.read();
        await lp.write(encodePiece({fromSeq: 0, prevChain: null, frames: tampered, head: await signedHead(a, 3, good.chain)}));
        await lp.write(encodeEnd(""));
        await stream.close();
      });
      // B asks whoever is connected when it learns A is at 3 (the genuine head above): the attacker.
      await publish(evil, roster.headTopic, encodeHead(await signedHead(a, 3, good.chain)));
      await waitFor("catch-up refused", () => Object.keys(b.federation!.report().catchUpFailures).some((k) => k.startsWith("JOURNAL_")), signal, 50);
      await waitFor("attacker disconnected", () => b.federation!.host.getConnections(peerIdFromString(a.peerId)).length === 0, signal, 50);
      assert.is(mirror.length, before.length, "nothing written");

      // Still serving.
      const r = await postDigest(mb.url, randomBytes(32), signal);
      assert.is(r.status, 200);
      void ma;
    } finally {
      for (const h of hosts) await Promise.resolve(h.stop()).catch(() => {});
      await stopAll(nodes, members);
      await removeDir(strangerDir);
    }
  }),
);

test.run();
