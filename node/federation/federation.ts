/**
 * The node's part in a federation (README "Federation over libp2p"), on
 * the one lifecycle: a libp2p host with the calendar identity, gossip of
 * the own calendar's journal (journal-publisher.ts), a live mirror of every
 * other member's calendar (mirror-follower.ts) fed by validated gossip and,
 * when behind, by catch-up from any peer that has the range
 * (journal-sync.ts), connections kept to every member (member-links.ts),
 * and evidence kept when an origin forks its journal (evidence.ts).
 *
 * A non-member (a mirror: `otsfed mirror`) runs the same, minus the
 * publisher: it follows every member's calendar and serves catch-up, but
 * anything it published on member topics would be rejected by everyone.
 */
import type {Message} from "@libp2p/gossipsub";
import {TopicValidatorResult} from "@libp2p/gossipsub";
import type {PeerId} from "@libp2p/interface";
import {toHex} from "../../protocol/ots/bytes.ts";
import type {CalendarRegistry} from "../calendar/registry.ts";
import type {Clock} from "../clock.ts";
import type {Identity} from "../identity.ts";
import {Lifecycle, runEvery} from "../lifecycle.ts";
import type {Logger} from "../logger.ts";
import type {FederationDefinition} from "./definition.ts";
import {EvidenceStore} from "./evidence.ts";
import {REJECT_REASONS, validateHeadMessage, validateRecordsMessage} from "./gossip-validation.ts";
import type {RejectReason, ValidHead, ValidPiece} from "./gossip-validation.ts";
import {fetchJournal, serveJournalStream} from "./journal-sync.ts";
import {JournalPublisher} from "./journal-publisher.ts";
import {MemberLinks} from "./member-links.ts";
import type {MemberLinkStatus} from "./member-links.ts";
import {MirrorFollower, PeerMisbehaved} from "./mirror-follower.ts";
import {createP2pHost} from "./p2p-host.ts";
import type {P2pHost} from "./p2p-host.ts";
import {Roster} from "./roster.ts";
import type {FederationMetrics} from "./metrics.ts";

export type FederationConfig = {
  definition: FederationDefinition;
  /** libp2p listen multiaddrs. */
  listen: readonly string[];
  /** A non-member mirror: follows every calendar, publishes nothing. */
  mirrorOnly: boolean;
  /** How often the own calendar's signed head is gossiped on its own. */
  headIntervalMs: number;
  /** How often every mirror asks a peer whether it is behind, whatever gossip says. */
  probeIntervalMs: number;
};

export const defaultFederationTimings = {headIntervalMs: 2_000, probeIntervalMs: 15_000};

/** How long a peer that sent records which do not verify is not asked again (and is disconnected). */
export const MISBEHAVED_BAN_MS = 60_000;
/** Least time between two gossiped pieces of the own journal (coalescing under load; a quiet calendar's rounds go at once). */
const PIECE_INTERVAL_MS = 50;
/** A head says we are behind: wait this long for the gossip in flight before asking a peer. */
const CATCH_UP_GRACE_MS = 300;

export type FederationModules = {identity: Identity; registry: CalendarRegistry; dataDir: string; logger: Logger; clock: Clock; metrics: FederationMetrics | null};

export type MirrorStatus = {calendar: string; url: string; rank: number; length: number; originHead: number; lagRecords: number; lagSeconds: number; forks: number; catchingUp: boolean};

export type FederationStatus = {
  name: string;
  peerId: string;
  member: boolean;
  listen: string[];
  members: MemberLinkStatus[];
  connectedPeers: number;
  mirrors: MirrorStatus[];
  rejected: Record<RejectReason, number>;
  catchUpFailures: Record<string, number>;
  forks: Array<{calendar: string; length: number; evidence: string}>;
};

type Run = {
  host: P2pHost;
  links: MemberLinks;
  publisher: JournalPublisher | null;
  loops: Promise<void>[];
};

export class Federation extends Lifecycle {
  readonly roster: Roster;
  private readonly config: FederationConfig;
  private readonly m: FederationModules;
  private readonly logger: Logger;
  private readonly evidence: EvidenceStore;
  private readonly followers = new Map<string, MirrorFollower>();
  private readonly validated = new WeakMap<Uint8Array, ValidPiece | ValidHead>();
  private readonly rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  private readonly catchUpFailures: Record<string, number> = {};
  private readonly forks: Array<{calendar: string; length: number; evidence: string}> = [];
  private readonly banned = new Map<string, number>();
  private readonly catching = new Map<MirrorFollower, Promise<void>>();
  private readonly again = new Set<MirrorFollower>();
  private readonly graceTimers = new Set<ReturnType<typeof setTimeout>>();
  private run: Run | null = null;
  /** Records imported by source, pieces refused: for tests, metrics and benches. */
  readonly counters = {gossipPieces: 0, fetchedPieces: 0, gaps: 0, old: 0};
  private readonly importListeners = new Set<(calendar: string, length: number) => void>();

  constructor(config: FederationConfig, modules: FederationModules) {
    super();
    this.config = config;
    this.m = modules;
    this.logger = modules.logger;
    this.roster = new Roster(config.definition);
    this.evidence = new EvidenceStore(modules.dataDir);
  }

  /** Is this node one of the members (and so publishes its calendar)? */
  get isMember(): boolean {
    return !this.config.mirrorOnly && this.roster.member(this.m.identity.peerId) !== null;
  }

  /** The libp2p host (started), for tests and the status page. */
  get host(): P2pHost {
    if (this.run === null) throw new Error("federation not started");
    return this.run.host;
  }

  /** Where the host listens (with /p2p/<id>), once started. */
  get addresses(): string[] {
    return this.run ? this.run.host.getMultiaddrs().map(String) : [];
  }

  /** Be told whenever a mirrored calendar grew (its new length). */
  onImported(listener: (calendar: string, length: number) => void): () => void {
    this.importListeners.add(listener);
    return () => this.importListeners.delete(listener);
  }

  /** The follower of a mirrored calendar, by peer id string. */
  follower(peerId: string): MirrorFollower | null {
    for (const f of this.followers.values()) if (f.name === peerId) return f;
    return null;
  }

  protected async onStart(signal: AbortSignal): Promise<void> {
    const {registry, identity, logger, clock} = this.m;
    for (const member of this.roster.members) {
      if (member.calendarId === identity.peerId) continue;
      const cal = registry.get(member.calendarIdBytes) ?? (await registry.addMirror(member.calendarIdBytes));
      const key = toHex(cal.id);
      if (this.followers.has(key)) continue;
      const f = new MirrorFollower(cal, {
        logger,
        clock,
        evidence: this.evidence,
        onFork: (e, path) => {
          this.forks.push({calendar: e.calendar, length: e.length, evidence: path});
          this.m.metrics?.equivocations.inc({calendar: e.calendar});
        },
      });
      await f.init();
      cal.onRecords((records) => {
        const last = records[records.length - 1];
        if (last) for (const l of this.importListeners) l(f.name, last.seq + 1);
      });
      this.followers.set(key, f);
    }
    const host = await createP2pHost({identity, listen: this.config.listen, topics: this.roster.topics});
    const pubsub = host.services.pubsub;
    pubsub.topicValidators.set(this.roster.recordsTopic, (_peer, msg) => this.validate(msg, "records"));
    pubsub.topicValidators.set(this.roster.headTopic, (_peer, msg) => this.validate(msg, "head"));
    pubsub.addEventListener("message", (e) => void this.onMessage(e.detail, signal));
    await host.handle(this.roster.journalProtocol, (stream) => serveJournalStream(stream, registry, logger, signal), {maxInboundStreams: 8, maxOutboundStreams: 8});
    await host.start();
    for (const t of this.roster.topics) pubsub.subscribe(t);
    // A new connection: ask that peer at once whether we are behind on anything (a restart, a partition healed).
    host.addEventListener("peer:connect", (e: CustomEvent<PeerId>) => {
      for (const f of this.followers.values()) this.requestCatchUp(f, e.detail.toString(), signal);
    });
    const links = new MemberLinks(host, this.roster, identity.peerId, {clock, logger});
    links.start(signal);
    let publisher: JournalPublisher | null = null;
    if (this.isMember) {
      publisher = new JournalPublisher({
        calendar: registry.own,
        identity,
        recordsTopic: this.roster.recordsTopic,
        headTopic: this.roster.headTopic,
        logger,
        minIntervalMs: PIECE_INTERVAL_MS,
        publish: async (topic, data) => void (await pubsub.publish(topic, data)),
      });
      publisher.start(signal, this.config.headIntervalMs);
    }
    const probe = runEvery(this.config.probeIntervalMs, signal, async () => {
      for (const f of this.followers.values()) this.requestCatchUp(f, null, signal);
    });
    this.run = {host, links, publisher, loops: [probe]};
    if (this.m.metrics) this.m.metrics.source = () => this.report();
    logger.info("federation joined", {federation: this.roster.name, member: this.isMember, listen: this.addresses, mirrors: this.followers.size});
  }

  protected async onStop(): Promise<void> {
    const run = this.run;
    if (run === null) return;
    if (this.m.metrics) this.m.metrics.source = null;
    for (const t of this.graceTimers) clearTimeout(t);
    this.graceTimers.clear();
    await run.publisher?.stop();
    await run.links.stop();
    await Promise.all(run.loops);
    await Promise.all([...this.catching.values()]);
    await run.host.stop();
    for (const f of this.followers.values()) f.close();
    this.followers.clear();
    this.run = null;
  }

  private async validate(msg: Message, topic: "records" | "head"): Promise<TopicValidatorResult> {
    const from = msg.type === "signed" ? msg.from.toString() : null;
    const verdict = topic === "records" ? await validateRecordsMessage(this.roster, from, msg.data) : await validateHeadMessage(this.roster, from, msg.data);
    if (!verdict.ok) {
      this.rejected[verdict.reason]++;
      this.m.metrics?.gossipRejected.inc({reason: verdict.reason});
      this.logger.debug("federation: gossip rejected", {topic, from, reason: verdict.reason, detail: verdict.detail});
      return TopicValidatorResult.Reject;
    }
    this.validated.set(msg.data, verdict.value);
    return TopicValidatorResult.Accept;
  }

  private async onMessage(msg: Message, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const from = msg.type === "signed" ? msg.from.toString() : "?";
    try {
      if (msg.topic === this.roster.recordsTopic) {
        const v = ((this.validated.get(msg.data) as ValidPiece | undefined) ?? (await this.revalidate(msg, "records"))) as ValidPiece | null;
        if (v === null) return;
        const f = this.followers.get(toHex(v.piece.head.calendarId));
        if (f === undefined) return;
        const before = f.length;
        const result = await f.offerGossip(v.piece, v.records, msg.data, from);
        if (result === "imported") {
          this.counters.gossipPieces++;
          this.m.metrics?.piecesImported.inc({source: "gossip"});
          this.m.metrics?.recordsImported.inc({source: "gossip"}, f.length - before);
        }
        else if (result === "old") this.counters.old++;
        else if (result === "gap") {
          this.counters.gaps++;
          this.requestCatchUp(f, from, signal);
        }
      } else if (msg.topic === this.roster.headTopic) {
        const v = ((this.validated.get(msg.data) as ValidHead | undefined) ?? (await this.revalidate(msg, "head"))) as ValidHead | null;
        if (v === null) return;
        const f = this.followers.get(toHex(v.head.calendarId));
        if (f === undefined) return;
        await f.noteHead(v.head, `gossip from ${from}`);
        if (f.lagRecords > 0) this.afterGrace(() => f.lagRecords > 0 && this.requestCatchUp(f, from, signal), signal);
      }
    } catch (e) {
      if (!signal.aborted) this.logger.warn("federation: gossip not applied", {topic: msg.topic, from, error: (e as Error).message});
    }
  }

  /** A delivered message whose validation result was not kept (another object): validate again. */
  private async revalidate(msg: Message, topic: "records" | "head"): Promise<ValidPiece | ValidHead | null> {
    const from = msg.type === "signed" ? msg.from.toString() : null;
    const v = topic === "records" ? await validateRecordsMessage(this.roster, from, msg.data) : await validateHeadMessage(this.roster, from, msg.data);
    return v.ok ? v.value : null;
  }

  private afterGrace(fn: () => void, signal: AbortSignal): void {
    const t = setTimeout(() => {
      this.graceTimers.delete(t);
      if (!signal.aborted) fn();
    }, CATCH_UP_GRACE_MS);
    this.graceTimers.add(t);
  }

  /** Catch `f` up, from `prefer` first when given; one run per calendar at a time (a request during one runs again after). */
  private requestCatchUp(f: MirrorFollower, prefer: string | null, signal: AbortSignal): void {
    if (signal.aborted) return;
    if (this.catching.has(f)) {
      this.again.add(f);
      return;
    }
    const run = this.catchUp(f, prefer, signal)
      .catch((e: Error) => this.logger.warn("federation: catch-up failed", {calendar: f.name, error: e.message}))
      .finally(() => {
        this.catching.delete(f);
        if (this.again.delete(f) && f.lagRecords > 0) this.requestCatchUp(f, null, signal);
      });
    this.catching.set(f, run);
  }

  /** Peers to ask, best first: `prefer`, the origin, other members by rank, then any other connected peer. */
  private candidates(f: MirrorFollower, prefer: string | null): string[] {
    const host = this.run?.host;
    if (!host) return [];
    const now = this.m.clock.now();
    const connected = new Set(host.getConnections().map((c) => c.remotePeer.toString()));
    const order: string[] = [];
    const add = (p: string | null): void => {
      if (p === null || order.includes(p) || !connected.has(p)) return;
      const until = this.banned.get(p);
      if (until !== undefined && until > now) return;
      order.push(p);
    };
    add(prefer);
    add(f.name);
    for (const m of this.roster.members) add(m.calendarId);
    for (const p of connected) add(p);
    return order;
  }

  private async catchUp(f: MirrorFollower, prefer: string | null, signal: AbortSignal): Promise<void> {
    const host = this.run?.host;
    if (!host) return;
    for (const peer of this.candidates(f, prefer)) {
      if (signal.aborted) return;
      const target = host.getConnections().find((c) => c.remotePeer.toString() === peer)?.remotePeer;
      if (!target) continue;
      try {
        const stream = await host.dialProtocol(target, this.roster.journalProtocol, {signal});
        const pieces = fetchJournal(stream, f.calendar.id, f.length, f.calendar.store.chainHash, signal);
        let restart = false;
        // One piece read ahead: the next arrives while this one is imported.
        let ahead = pieces.next();
        for (;;) {
          const next = await ahead;
          if (next.done) break;
          ahead = pieces.next();
          ahead.catch(() => {});
          const result = await f.offerFetched(next.value, peer);
          if (result === "imported") {
            this.counters.fetchedPieces++;
            this.m.metrics?.piecesImported.inc({source: "catch-up"});
            this.m.metrics?.recordsImported.inc({source: "catch-up"}, next.value.head.length - next.value.fromSeq);
          }
          if (result === "stale" || result === "fork") {
            // Gossip moved our end meanwhile (or the peer relays a fork): ask again from where we are.
            restart = true;
            await pieces.return({reason: "restart"});
            break;
          }
        }
        if (restart) {
          this.again.add(f);
          return;
        }
        if (f.lagRecords === 0) return;
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof PeerMisbehaved) {
          this.catchUpFailures[e.code] = (this.catchUpFailures[e.code] ?? 0) + 1;
          this.m.metrics?.catchUpFailures.inc({code: e.code});
          this.banned.set(peer, this.m.clock.now() + MISBEHAVED_BAN_MS);
          this.logger.warn("federation: catch-up peer sent records that do not verify; disconnected, not asked again for a while", {peer, calendar: f.name, code: e.code, error: e.message});
          await host.hangUp(target).catch(() => {});
        } else {
          this.catchUpFailures["stream"] = (this.catchUpFailures["stream"] ?? 0) + 1;
          this.m.metrics?.catchUpFailures.inc({code: "stream"});
          this.logger.debug("federation: catch-up from peer failed", {peer, calendar: f.name, error: (e as Error).message});
        }
      }
    }
  }

  report(): FederationStatus {
    const run = this.run;
    return {
      name: this.roster.name,
      peerId: this.m.identity.peerId,
      member: this.isMember,
      listen: this.addresses,
      members: run ? run.links.status() : [],
      connectedPeers: run ? new Set(run.host.getConnections().map((c) => c.remotePeer.toString())).size : 0,
      mirrors: [...this.followers.values()].map((f) => {
        const m = this.roster.member(f.name);
        return {calendar: f.name, url: m?.url ?? "", rank: m?.rank ?? -1, length: f.length, originHead: f.knownHead?.length ?? f.length, lagRecords: f.lagRecords, lagSeconds: Math.round(f.lagSeconds() * 10) / 10, forks: f.forkCount, catchingUp: this.catching.has(f)};
      }),
      rejected: {...this.rejected},
      catchUpFailures: {...this.catchUpFailures},
      forks: [...this.forks],
    };
  }

  /** Red (a reason) when a member forked its journal: the operator must look at the evidence. */
  health(): string | null {
    if (this.forks.length === 0) return null;
    const cals = [...new Set(this.forks.map((f) => f.calendar))];
    return `equivocation: ${cals.join(", ")} signed two different journals (evidence in ${this.forks[0]?.evidence})`;
  }
}
