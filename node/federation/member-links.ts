/**
 * Keeps a connection to every other member: dials each at its definition's
 * multiaddrs, and when a connection drops, dials again with exponential
 * backoff (1 s doubling to 30 s, reset once connected) for as long as the
 * node runs — a member offline for a week is reconnected when it returns.
 * Says who is connected, since when, and why the last dial failed.
 */
import type {PeerId} from "@libp2p/interface";
import {peerIdFromString} from "@libp2p/peer-id";
import {multiaddr} from "@multiformats/multiaddr";
import type {Multiaddr} from "@multiformats/multiaddr";
import type {Clock} from "../clock.ts";
import {runEvery} from "../lifecycle.ts";
import type {Logger} from "../logger.ts";
import type {P2pHost} from "./p2p-host.ts";
import type {Roster, RosterMember} from "./roster.ts";

export const REDIAL_MIN_MS = 1_000;
export const REDIAL_MAX_MS = 30_000;
const DIAL_TIMEOUT_MS = 10_000;

export type MemberLinkStatus = {peerId: string; rank: number; url: string; self: boolean; connected: boolean; since: number | null; lastError: string | null; dialAttempts: number};

type Link = {member: RosterMember; peer: PeerId; addrs: Multiaddr[]; connectedSince: number | null; nextDialAt: number; backoffMs: number; lastError: string | null; attempts: number; dialing: boolean};

export class MemberLinks {
  private readonly links: Link[];
  private readonly host: P2pHost;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly roster: Roster;
  private readonly selfId: string;
  private loop: Promise<void> | null = null;

  constructor(host: P2pHost, roster: Roster, selfId: string, modules: {clock: Clock; logger: Logger}) {
    this.host = host;
    this.roster = roster;
    this.selfId = selfId;
    this.clock = modules.clock;
    this.logger = modules.logger;
    this.links = roster.members
      .filter((m) => m.calendarId !== selfId)
      .map((m) => ({
        member: m,
        peer: peerIdFromString(m.calendarId),
        addrs: m.p2p.map((a) => (a.includes("/p2p/") ? multiaddr(a) : multiaddr(a).encapsulate(`/p2p/${m.calendarId}`))),
        connectedSince: null,
        nextDialAt: 0,
        backoffMs: REDIAL_MIN_MS,
        lastError: null,
        attempts: 0,
        dialing: false,
      }));
  }

  start(signal: AbortSignal): void {
    const onConnect = (e: CustomEvent<PeerId>): void => {
      const link = this.links.find((l) => l.peer.equals(e.detail));
      if (link && link.connectedSince === null) {
        link.connectedSince = this.clock.now();
        link.backoffMs = REDIAL_MIN_MS;
        link.lastError = null;
        this.logger.info("federation: member connected", {member: link.member.calendarId, rank: link.member.rank});
      }
    };
    const onDisconnect = (e: CustomEvent<PeerId>): void => {
      const link = this.links.find((l) => l.peer.equals(e.detail));
      if (link && link.connectedSince !== null) {
        link.connectedSince = null;
        link.nextDialAt = this.clock.now() + link.backoffMs;
        this.logger.warn("federation: member disconnected; redialing", {member: link.member.calendarId, inMs: link.backoffMs});
      }
    };
    this.host.addEventListener("peer:connect", onConnect);
    this.host.addEventListener("peer:disconnect", onDisconnect);
    signal.addEventListener("abort", () => {
      this.host.removeEventListener("peer:connect", onConnect);
      this.host.removeEventListener("peer:disconnect", onDisconnect);
    });
    this.loop = runEvery(250, signal, async () => this.tick(signal));
  }

  async stop(): Promise<void> {
    await this.loop;
  }

  private tick(signal: AbortSignal): void {
    const now = this.clock.now();
    for (const link of this.links) {
      if (link.dialing || link.addrs.length === 0) continue;
      if (this.host.getConnections(link.peer).length > 0) continue;
      if (now < link.nextDialAt) continue;
      link.dialing = true;
      link.attempts++;
      this.host
        .dial(link.addrs, {signal: AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)])})
        .then(() => {
          link.backoffMs = REDIAL_MIN_MS;
          link.lastError = null;
        })
        .catch((e: Error) => {
          if (signal.aborted) return;
          link.lastError = e.message;
          link.nextDialAt = this.clock.now() + link.backoffMs;
          this.logger.debug("federation: dial failed", {member: link.member.calendarId, error: e.message, retryInMs: link.backoffMs});
          link.backoffMs = Math.min(REDIAL_MAX_MS, link.backoffMs * 2);
        })
        .finally(() => {
          link.dialing = false;
        });
    }
  }

  /** Every member, ourselves included, by rank. */
  status(): MemberLinkStatus[] {
    return this.roster.members.map((m) => {
      const link = this.links.find((l) => l.member === m);
      if (link === undefined) return {peerId: m.calendarId, rank: m.rank, url: m.url, self: m.calendarId === this.selfId, connected: true, since: null, lastError: null, dialAttempts: 0};
      const connected = this.host.getConnections(link.peer).length > 0;
      return {peerId: m.calendarId, rank: m.rank, url: m.url, self: false, connected, since: connected ? link.connectedSince : null, lastError: link.lastError, dialAttempts: link.attempts};
    });
  }
}
