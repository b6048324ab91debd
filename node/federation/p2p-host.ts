/**
 * The node's libp2p host, from real components only: TCP and WebSockets
 * transports, Noise encryption, Yamux multiplexing, identify, ping, and
 * gossipsub (`@libp2p/gossipsub`, the maintained continuation of
 * `@chainsafe/libp2p-gossipsub` for libp2p 3). Its identity is the calendar
 * identity (identity.key), so a member's peer id is its calendar id.
 *
 * Gossip is StrictSign (every message names and is signed by its
 * publisher). Peer scoring counts only invalid messages on our topics: a
 * quiet calendar delivers nothing for hours and must not be scored down
 * for it, but a peer whose messages we reject sinks until it is graylisted.
 */
import {noise} from "@chainsafe/libp2p-noise";
import {yamux} from "@chainsafe/libp2p-yamux";
import {gossipsub} from "@libp2p/gossipsub";
import type {GossipSub} from "@libp2p/gossipsub";
import {createTopicScoreParams} from "@libp2p/gossipsub/score";
import {identify} from "@libp2p/identify";
import type {Identify} from "@libp2p/identify";
import {ping} from "@libp2p/ping";
import type {Ping} from "@libp2p/ping";
import {tcp} from "@libp2p/tcp";
import {webSockets} from "@libp2p/websockets";
import {createLibp2p} from "libp2p";
import {createHash} from "node:crypto";
import type {Libp2p} from "libp2p";
import {MAX_GOSSIP_MESSAGE_BYTES} from "../../protocol/federation/wire.ts";
import type {Identity} from "../identity.ts";

export type P2pServices = {identify: Identify; ping: Ping; pubsub: GossipSub};
export type P2pHost = Libp2p<P2pServices>;

export type P2pHostOptions = {
  identity: Identity;
  /** Multiaddrs to listen on (TCP, and `/ws` ones for WebSockets). */
  listen: readonly string[];
  /** Topics whose invalid messages score their sender down. */
  topics: readonly string[];
};

/** Build (not start) the host. */
export async function createP2pHost(opts: P2pHostOptions): Promise<P2pHost> {
  const topicScore = createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0,
    firstMessageDeliveriesWeight: 0,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    // Each rejected message costs 10 (squared counter), decaying by a tenth per decay interval.
    invalidMessageDeliveriesWeight: -10,
    invalidMessageDeliveriesDecay: 0.9,
  });
  return createLibp2p({
    privateKey: opts.identity.privateKey,
    addresses: {listen: [...opts.listen]},
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        globalSignaturePolicy: "StrictSign",
        // A federation of one, or members all offline: publishing is still not an error (catch-up fills the gap later).
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        // A federation is a few members, each publishing to all directly (flood publish): a small mesh relays
        // for the rare member that is not connected to the origin, without each copy arriving six times.
        D: 3,
        Dlo: 2,
        Dhi: 5,
        Dlazy: 3,
        // Copies of a message arrive from several mesh peers: recognise them before the signature is checked again.
        // Over every field, signature included, so a forged copy never passes for the genuine one.
        fastMsgIdFn: (m) => {
          const h = createHash("sha256");
          for (const part of [m.from, m.seqno, m.data, m.signature]) if (part) h.update(part);
          return h.digest("base64");
        },
        // An RPC may carry a few messages; anything bigger is dropped before it is decoded.
        maxInboundDataLength: 4 * MAX_GOSSIP_MESSAGE_BYTES,
        allowedTopics: [...opts.topics],
        scoreParams: {topics: Object.fromEntries(opts.topics.map((t) => [t, topicScore]))},
      }),
    },
  });
}
