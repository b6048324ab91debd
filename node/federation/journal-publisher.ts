/**
 * Gossips the node's own calendar as it is written: every record, once
 * durable, goes out in a signed piece (its frames, the chain hash before
 * them, and a head signed for exactly their end), so any member can append
 * it knowing nothing else. Records written while a piece is being signed
 * and sent wait and go in the next, so a busy calendar sends few large
 * pieces and a quiet one a piece per round. Now and then (and at start) the
 * signed head alone goes out, so a mirror that missed a piece learns it is
 * behind even when nothing new is written.
 */
import {checkpointSigningBytes} from "../../protocol/journal/checkpoint.ts";
import type {Checkpoint} from "../../protocol/journal/checkpoint.ts";
import {encodeHead, encodePiece, MAX_GOSSIP_FRAMES_BYTES} from "../../protocol/federation/wire.ts";
import type {Calendar} from "../calendar/calendar.ts";
import type {JournalRecord} from "../calendar/journal-store.ts";
import type {Identity} from "../identity.ts";
import {runEvery} from "../lifecycle.ts";
import type {Logger} from "../logger.ts";

export type PublisherModules = {
  calendar: Calendar;
  identity: Identity;
  publish: (topic: string, data: Uint8Array) => Promise<void>;
  recordsTopic: string;
  headTopic: string;
  logger: Logger;
  /** Told of each piece as it is handed to gossip (seq of its last record + 1), for the benches. */
  onPublished?: (length: number) => void;
  /** Least time between two pieces: records written meanwhile wait and go in the next. */
  minIntervalMs: number;
};

export class JournalPublisher {
  private readonly m: PublisherModules;
  private pending: JournalRecord[] = [];
  private pendingBytes = 0;
  /** Chain hash after the last record handed over (the next piece's prevChain). */
  private chainBefore: Uint8Array;
  private nextSeq: number;
  private sending: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  private heartbeat: Promise<void> | null = null;
  private stopped = false;
  private lastSentAt = -Infinity;

  constructor(m: PublisherModules) {
    this.m = m;
    this.chainBefore = m.calendar.store.chainHash;
    this.nextSeq = m.calendar.length;
  }

  start(signal: AbortSignal, headIntervalMs: number): void {
    this.stopped = false;
    this.chainBefore = this.m.calendar.store.chainHash;
    this.nextSeq = this.m.calendar.length;
    this.unsubscribe = this.m.calendar.onRecords((records) => this.take(records));
    this.heartbeat = runEvery(headIntervalMs, signal, () => this.publishHead());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.sending;
    await this.heartbeat;
  }

  private take(records: readonly JournalRecord[]): void {
    if (this.stopped) return;
    for (const r of records) {
      this.pending.push(r);
      this.pendingBytes += r.frame.length;
    }
    this.sending ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0 && !this.stopped) {
        const wait = this.lastSentAt + this.m.minIntervalMs - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (this.stopped) break;
        this.lastSentAt = performance.now();
        // Take up to one gossip message's worth; a record is at most 64 KiB so one always fits.
        let bytes = 0;
        let n = 0;
        while (n < this.pending.length && bytes + (this.pending[n] as JournalRecord).frame.length <= MAX_GOSSIP_FRAMES_BYTES) bytes += (this.pending[n++] as JournalRecord).frame.length;
        const batch = this.pending.splice(0, n);
        this.pendingBytes -= bytes;
        const frames = new Uint8Array(bytes);
        let p = 0;
        for (const r of batch) {
          frames.set(r.frame, p);
          p += r.frame.length;
        }
        const first = batch[0] as JournalRecord;
        const last = batch[batch.length - 1] as JournalRecord;
        if (first.seq !== this.nextSeq) {
          // Cannot happen (records arrive in order); if it did, a piece that does not chain would be refused by everyone.
          this.m.logger.error("federation: own records out of order; not gossiped (mirrors catch up)", {expected: this.nextSeq, got: first.seq});
        }
        const prevChain = this.chainBefore;
        this.chainBefore = last.chainHash;
        this.nextSeq = last.seq + 1;
        const head = await this.sign(last.seq + 1, last.chainHash);
        await this.send(this.m.recordsTopic, encodePiece({fromSeq: first.seq, prevChain, frames, head}));
        this.m.onPublished?.(head.length);
      }
    } finally {
      this.sending = null;
    }
  }

  private async sign(length: number, chainHash: Uint8Array): Promise<Checkpoint> {
    const body = {calendarId: this.m.calendar.id, length, chainHash};
    return {...body, signature: await this.m.identity.sign(checkpointSigningBytes(body))};
  }

  private async publishHead(): Promise<void> {
    const head = await this.m.calendar.latestHead();
    if (head !== null) await this.send(this.m.headTopic, encodeHead(head));
  }

  private async send(topic: string, data: Uint8Array): Promise<void> {
    try {
      await this.m.publish(topic, data);
    } catch (e) {
      // Gossip is best effort: a member that misses this catches up over the journal protocol.
      this.m.logger.debug("federation: publish failed", {topic, error: (e as Error).message});
    }
  }
}
