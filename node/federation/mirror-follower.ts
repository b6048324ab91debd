/**
 * One mirrored calendar, followed live: pieces from gossip and catch-up go
 * through here, one at a time, into `Calendar.importBatch` (which writes
 * nothing unless the piece extends our copy exactly and its head's
 * signature verifies).
 *
 * What a piece can be, against our copy of length N:
 *   - its head at or below N: old news (gossip that a catch-up overtook),
 *     unless its chain hash there is not ours — a fork;
 *   - starting at or before N and ending past it: imported from N, once the
 *     records we already hold are checked to be the same ones;
 *   - starting past N: a gap (we missed pieces) — the caller catches up.
 *
 * Heads seen (gossip, pieces, catch-up) tell how far the origin is, so lag
 * is known even when nothing arrives. Two signed heads that disagree at one
 * length are evidence that the origin forked its journal: stored, logged at
 * error, and the fork refused (our copy keeps the branch it has).
 */
import type {JournalPiece} from "../../protocol/federation/wire.ts";
import type {BatchRecord} from "../../protocol/journal/batch.ts";
import {genesisChainHash} from "../../protocol/journal/chain.ts";
import type {Checkpoint} from "../../protocol/journal/checkpoint.ts";
import {JournalError} from "../../protocol/journal/errors.ts";
import {bytesEqual} from "../../protocol/ots/bytes.ts";
import type {Calendar} from "../calendar/calendar.ts";
import type {Clock} from "../clock.ts";
import {nativeSha256} from "../hash.ts";
import {calendarIdToString} from "../identity.ts";
import type {Logger} from "../logger.ts";
import type {EvidenceStore, ForkEvidence} from "./evidence.ts";

/** Chain hashes remembered for the newest records (to check overlaps and heads against our copy without a read). */
const RECENT_CHAINS = 16_384;
/** Heads remembered per calendar by length (to catch two heads at one length). */
const RECENT_HEADS = 4_096;

export type OfferResult = "imported" | "old" | "gap" | "fork" | "stale";

/** A catch-up peer sent something that does not verify against the origin's key: it is disconnected and penalised. */
export class PeerMisbehaved extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "PeerMisbehaved";
    this.code = code;
  }
}

export type FollowerModules = {logger: Logger; clock: Clock; evidence: EvidenceStore; onFork: (e: ForkEvidence, path: string) => void};

export class MirrorFollower {
  readonly calendar: Calendar;
  readonly name: string;
  /** The furthest verified head of the origin we know of (ours, or one seen). */
  private known: Checkpoint | null = null;
  /** When we first knew of a head past our end; null while caught up. */
  private behindFrom: number | null = null;
  /** Ring of the newest chain hashes: slot `length % RECENT_CHAINS` holds (length, chain hash after it). */
  private readonly recentLengths = new Float64Array(RECENT_CHAINS).fill(-1);
  private readonly recentChains: Array<Uint8Array | undefined> = new Array(RECENT_CHAINS);
  private readonly recentHeads = new Map<number, Checkpoint>();
  private readonly modules: FollowerModules;
  private queue: Promise<unknown> = Promise.resolve();
  private forks = 0;
  private readonly unsubscribe: () => void;

  constructor(calendar: Calendar, modules: FollowerModules) {
    this.calendar = calendar;
    this.name = calendarIdToString(calendar.id) ?? "?";
    this.modules = modules;
    this.rememberChain(calendar.length, calendar.store.chainHash);
    this.unsubscribe = calendar.onRecords((records) => {
      for (const r of records) this.rememberChain(r.seq + 1, r.chainHash);
      this.updateBehind();
    });
  }

  /** Load our own newest head (a restart: it counts as known). */
  async init(): Promise<void> {
    const head = await this.calendar.latestHead();
    if (head !== null) this.noteKnown(head);
  }

  close(): void {
    this.unsubscribe();
  }

  get length(): number {
    return this.calendar.length;
  }

  /** The furthest head known (ours or the origin's as seen), or null when nothing is known. */
  get knownHead(): Checkpoint | null {
    return this.known;
  }

  get lagRecords(): number {
    return Math.max(0, (this.known?.length ?? 0) - this.calendar.length);
  }

  /** Seconds since we first knew of records we do not hold (0 while caught up). */
  lagSeconds(): number {
    return this.behindFrom === null ? 0 : Math.max(0, (this.modules.clock.now() - this.behindFrom) / 1000);
  }

  get forkCount(): number {
    return this.forks;
  }

  /** Serialize: one import at a time per calendar (the journal takes one write at a time). */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Our chain hash after `length` records, if we know it without reading. */
  private chainAt(length: number): Uint8Array | null {
    if (length === this.calendar.length) return this.calendar.store.chainHash;
    if (length === 0) return genesisChainHash(this.calendar.id, nativeSha256);
    const slot = length % RECENT_CHAINS;
    return this.recentLengths[slot] === length ? (this.recentChains[slot] ?? null) : null;
  }

  private rememberChain(length: number, chain: Uint8Array): void {
    const slot = length % RECENT_CHAINS;
    this.recentLengths[slot] = length;
    this.recentChains[slot] = chain;
  }

  private noteKnown(head: Checkpoint): void {
    if (this.known === null || head.length > this.known.length) this.known = head;
    this.updateBehind();
  }

  private updateBehind(): void {
    const behind = (this.known?.length ?? 0) > this.calendar.length;
    if (!behind) this.behindFrom = null;
    else this.behindFrom ??= this.modules.clock.now();
  }

  /**
   * A verified head of the origin (gossip, or a piece's). Checks it against
   * our copy and the heads seen before; returns true when it shows a fork.
   */
  async noteHead(head: Checkpoint, seen: string, pieceMessage: Uint8Array | null = null): Promise<boolean> {
    const before = this.recentHeads.get(head.length);
    if (before !== undefined && !bytesEqual(before.chainHash, head.chainHash)) {
      await this.fork({length: head.length, ours: {chainHash: before.chainHash, head: before}, theirs: {chainHash: head.chainHash, head, pieceMessage}, seen});
      return true;
    }
    const ours = this.chainAt(head.length);
    if (ours !== null && !bytesEqual(ours, head.chainHash)) {
      await this.fork({length: head.length, ours: {chainHash: ours, head: await this.calendar.latestHead()}, theirs: {chainHash: head.chainHash, head, pieceMessage}, seen});
      return true;
    }
    if (before === undefined) {
      this.recentHeads.set(head.length, head);
      // Heads arrive a few per second: a Map trimmed from its oldest end is fine at this size.
      if (this.recentHeads.size > RECENT_HEADS) this.recentHeads.delete(this.recentHeads.keys().next().value as number);
    }
    this.noteKnown(head);
    return false;
  }

  private async fork(e: Omit<ForkEvidence, "calendar" | "atMs">): Promise<void> {
    this.forks++;
    const evidence: ForkEvidence = {...e, calendar: this.name, atMs: this.modules.clock.now()};
    const path = await this.modules.evidence.save(evidence);
    this.modules.logger.error("EQUIVOCATION: the origin signed two different journals; the fork is refused and the evidence kept", {calendar: this.name, length: e.length, seen: e.seen, evidence: path});
    this.modules.onFork(evidence, path);
  }

  /**
   * A gossiped piece, already validated (gossip-validation.ts: its records
   * hash from its prevChain to its head, and the head's signature is the
   * origin's). `message` is its wire bytes (kept as evidence if it forks).
   */
  offerGossip(piece: JournalPiece, records: readonly BatchRecord[], message: Uint8Array, from: string): Promise<OfferResult> {
    return this.serialized(async () => {
      const n = this.calendar.length;
      if (await this.noteHead(piece.head, `gossip from ${from}`, message)) return "fork";
      if (piece.head.length <= n) return "old";
      if (piece.fromSeq > n) return "gap";
      // The records we already hold must be the same ones: their chain at our end must be ours.
      const k = n - piece.fromSeq;
      const theirs = k === 0 ? (piece.prevChain as Uint8Array) : (records[k - 1] as BatchRecord).chainHash;
      if (!bytesEqual(theirs, this.calendar.store.chainHash)) {
        await this.fork({length: n, ours: {chainHash: this.calendar.store.chainHash, head: await this.calendar.latestHead()}, theirs: {chainHash: theirs, head: piece.head, pieceMessage: message}, seen: `gossip from ${from}`});
        return "fork";
      }
      const first = records[k] as BatchRecord;
      const frames = piece.frames.subarray(first.frame.byteOffset - piece.frames.byteOffset);
      await this.calendar.importBatch(frames, piece.head);
      return "imported";
    });
  }

  /**
   * A piece of a catch-up reply (or an HTTP fetch), asked for from our end.
   * It carries no prevChain: it must chain from ours. Anything that does not
   * verify is the sender's fault (PeerMisbehaved); "stale" when our end moved
   * since we asked (gossip got there first).
   */
  offerFetched(piece: JournalPiece, from: string): Promise<OfferResult> {
    return this.serialized(async () => {
      const n = this.calendar.length;
      if (piece.fromSeq !== n) return piece.head.length <= n ? "old" : "stale";
      if (!bytesEqual(piece.head.calendarId, this.calendar.id)) throw new PeerMisbehaved("WRONG_CALENDAR", `${from} sent another calendar's records`);
      try {
        // importBatch decodes, chains and checks the signature, writing nothing unless all of it holds.
        await this.calendar.importBatch(piece.frames, piece.head);
      } catch (e) {
        if (e instanceof JournalError) throw new PeerMisbehaved(e.code, `${from} sent records that do not verify against the origin's signed head: ${e.message}`);
        throw e;
      }
      await this.noteHead(piece.head, `catch-up from ${from}`);
      return "imported";
    });
  }
}
