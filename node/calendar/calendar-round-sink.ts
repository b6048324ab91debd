/**
 * The calendar as the aggregator's {@link RoundSink}: a round is durable
 * once its ROUND record is journaled (fdatasync'd) and indexed, and each
 * client's proof goes on from the root with `append(tag ‖ seq)` to the
 * 44-byte commitment and the calendar's `PendingAttestation(url)`
 * (PROTOCOL-NOTES §2.2; byte layout in protocol/journal/proof.ts).
 */
import {pending} from "../../protocol/ots/attestations.ts";
import {ByteWriter} from "../../protocol/ots/bytes.ts";
import {encodeOp} from "../../protocol/ots/ops.ts";
import {commitmentOp} from "../../protocol/journal/commitment.ts";
import {encodeAttestationLeaf} from "../../protocol/journal/proof.ts";
import type {RoundReceipt, RoundSink} from "./round-sink.ts";

/** What the sink uses of a calendar (`Calendar` has it). */
export type RoundJournal = {
  /** The calendar's 4-byte tag, the first part of `tag ‖ seq`. */
  readonly tag: Uint8Array;
  /** Journal and index a round; resolves once durable, with the record's sequence number. */
  commitRound(root: Uint8Array, leaves: number, timeMs: number): Promise<{seq: number; commitment: Uint8Array}>;
};

/** The calendar behind the sink and the URL its Pending attestations name. */
export type CalendarRoundSinkModules = {
  calendar: RoundJournal;
  /**
   * The calendar URL for Pending attestations; a function so a node
   * listening on port 0 can fill it in once it knows its port.
   */
  url: () => string;
};

/** A calendar as the aggregator's round sink; see the module comment. */
export class CalendarRoundSink implements RoundSink {
  private readonly calendar: RoundJournal;
  private readonly url: () => string;
  /** The attestation leaf changes only with the URL, so it is encoded once per URL. */
  private leaf: {url: string; bytes: Uint8Array} | null = null;

  constructor(modules: CalendarRoundSinkModules) {
    this.calendar = modules.calendar;
    this.url = modules.url;
  }

  async commitRound(root: Uint8Array, leaves: number, timeMs: number): Promise<RoundReceipt> {
    const {seq} = await this.calendar.commitRound(root, leaves, timeMs);
    const url = this.url();
    if (this.leaf?.url !== url) this.leaf = {url, bytes: encodeAttestationLeaf(pending(url))};
    const w = new ByteWriter(16 + this.leaf.bytes.length);
    encodeOp(commitmentOp(this.calendar.tag, seq), w);
    w.writeBytes(this.leaf.bytes);
    return {tail: w.finish(), logContext: {seq}};
  }
}
