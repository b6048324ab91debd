/**
 * A live, ordered, gap-free stream of one calendar's journal records — what
 * replication gossip and the event feed consume — with back-pressure that
 * never slows the writer:
 *
 *   for await (const records of calendar.feed(fromSeq)) { … }   // batches, in seq order
 *
 * New records arrive in memory as they are written (after they are durable
 * and indexed). A consumer that falls more than `maxBuffered` records behind
 * loses its in-memory queue and is fed from the journal on disk instead,
 * batch by batch, until it has caught up; then it is live again. So the
 * writer never waits for a slow consumer, memory per consumer is bounded,
 * and no record is ever skipped or delivered twice.
 */
import type {JournalRecord, JournalStore} from "./journal-store.ts";

export type RecordFeedOptions = {
  /** Records held in memory for a consumer before it is switched to reading the journal. */
  maxBuffered: number;
  /** Most records in one batch read from the journal. */
  batchSize: number;
};

export const defaultRecordFeedOptions: RecordFeedOptions = {maxBuffered: 100_000, batchSize: 10_000};

export class RecordFeed implements AsyncIterableIterator<readonly JournalRecord[]> {
  private readonly store: JournalStore;
  private readonly opts: RecordFeedOptions;
  private readonly detach: () => void;
  /** The next seq this consumer gets. */
  private nextSeq: number;
  /** Chain hash after record `next - 1`, once known (spares re-hashing a segment prefix). */
  private chain: Uint8Array | null;
  private queue: Array<readonly JournalRecord[]> = [];
  private queued = 0;
  private backlog: AsyncGenerator<JournalRecord[]> | null = null;
  private wake: (() => void) | null = null;
  private closed = false;
  /** Records this consumer got from the journal on disk because it had fallen behind (a measure of lag). */
  readFromJournal = 0;

  /** Use `Calendar.feed()`; `attach` subscribes `push` and returns the unsubscribe. */
  constructor(store: JournalStore, fromSeq: number, chainBefore: Uint8Array | null, attach: (push: (records: readonly JournalRecord[]) => void) => () => void, opts: Partial<RecordFeedOptions> = {}) {
    this.store = store;
    this.opts = {...defaultRecordFeedOptions, ...opts};
    this.nextSeq = fromSeq;
    this.chain = chainBefore;
    this.detach = attach((records) => this.push(records));
  }

  /** The seq of the next record this consumer will get. */
  get position(): number {
    return this.nextSeq;
  }

  private push(records: readonly JournalRecord[]): void {
    if (this.closed || records.length === 0) return;
    if (this.queued + records.length > this.opts.maxBuffered) {
      // Too far behind: forget what is queued; the journal has it all.
      this.queue = [];
      this.queued = 0;
    } else {
      this.queue.push(records);
      this.queued += records.length;
    }
    this.wake?.();
  }

  async next(): Promise<IteratorResult<readonly JournalRecord[]>> {
    for (;;) {
      if (this.closed) return {done: true, value: undefined};
      // Drop what the journal already gave us; keep a partly new batch's new part.
      while (this.queue.length > 0) {
        const head = this.queue[0] as readonly JournalRecord[];
        const last = head[head.length - 1] as JournalRecord;
        if (last.seq < this.nextSeq) {
          this.queue.shift();
          this.queued -= head.length;
          continue;
        }
        const first = head[0] as JournalRecord;
        if (first.seq <= this.nextSeq) {
          this.queue.shift();
          this.queued -= head.length;
          return this.deliver(first.seq === this.nextSeq ? head : head.slice(this.nextSeq - first.seq));
        }
        break;
      }
      // A gap between what we delivered and what is queued (or nothing queued
      // while the journal is ahead): read it from disk.
      if (this.nextSeq < this.store.length) {
        this.backlog ??= this.store.records(this.nextSeq, Infinity, this.chain, this.opts.batchSize);
        const r = await this.backlog.next();
        if (!r.done && r.value.length > 0 && (r.value[0] as JournalRecord).seq === this.nextSeq) {
          this.readFromJournal += r.value.length;
          return this.deliver(r.value);
        }
        // The read reached the end it saw when it began; start a new one if the journal grew.
        await this.backlog.return(undefined);
        this.backlog = null;
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  private deliver(records: readonly JournalRecord[]): IteratorResult<readonly JournalRecord[]> {
    const last = records[records.length - 1] as JournalRecord;
    this.nextSeq = last.seq + 1;
    this.chain = last.chainHash;
    return {done: false, value: records};
  }

  /** Stop the feed: a pending `next()` resolves done, and nothing more is held. Idempotent. */
  async return(): Promise<IteratorResult<readonly JournalRecord[]>> {
    if (!this.closed) {
      this.closed = true;
      this.detach();
      this.queue = [];
      this.queued = 0;
      await this.backlog?.return(undefined);
      this.backlog = null;
      this.wake?.();
    }
    return {done: true, value: undefined};
  }

  /** Same as `return()`, for callers that stop a feed from outside the loop. */
  close(): Promise<void> {
    return this.return().then(() => {});
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
