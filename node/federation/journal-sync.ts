/**
 * The catch-up stream protocol `/otsfed/<federation>/journal/1`: a mirror
 * that is behind asks any peer for a calendar's records from its own end;
 * the peer streams pieces (protocol/federation/wire.ts), each ending at a
 * signed head it holds (a sealed segment's checkpoint, or its newest head),
 * then END. Length-prefixed messages with hard limits both ways: a request
 * is at most MAX_REQUEST_MESSAGE_BYTES, a reply message at most
 * MAX_REPLY_MESSAGE_BYTES (one record batch). Whoever serves, the receiver
 * verifies every piece against the origin's signature (mirror-follower.ts),
 * so any peer can serve — a member, a non-member mirror, the origin or not.
 */
import type {Stream} from "@libp2p/interface";
import {lpStream} from "@libp2p/utils";
import {decodeWireMessage, encodeEnd, encodePiece, encodeRequest, MAX_REPLY_MESSAGE_BYTES, MAX_REQUEST_MESSAGE_BYTES, WireKind} from "../../protocol/federation/wire.ts";
import type {CatchUpRequest, JournalPiece} from "../../protocol/federation/wire.ts";
import {CalendarError} from "../../protocol/errors.ts";
import {MAX_BATCH_BYTES} from "../../protocol/journal/batch.ts";
import type {CalendarRegistry} from "../calendar/registry.ts";
import type {Logger} from "../logger.ts";
import {PeerMisbehaved} from "./mirror-follower.ts";

/**
 * Bytes of records a catch-up piece holds at most: the server picks the
 * furthest head within it (an origin cuts and signs one there); a mirror
 * that serves can only end at heads it holds, a segment's worth at most.
 */
export const CATCH_UP_PIECE_BYTES = 4 * 1024 * 1024;
/** A reply that goes silent this long is given up (the peer is slow or gone). */
export const CATCH_UP_IDLE_MS = 30_000;

const LP_REPLY = {maxDataLength: MAX_REPLY_MESSAGE_BYTES, maxBufferSize: MAX_REPLY_MESSAGE_BYTES + 64};
const LP_REQUEST = {maxDataLength: MAX_REQUEST_MESSAGE_BYTES, maxBufferSize: 4096};

/** Serve one inbound catch-up stream from what `registry` holds. */
export async function serveJournalStream(stream: Stream, registry: CalendarRegistry, logger: Logger, signal: AbortSignal): Promise<void> {
  const lp = lpStream(stream, LP_REQUEST);
  try {
    const raw = await lp.read({signal: AbortSignal.any([signal, AbortSignal.timeout(CATCH_UP_IDLE_MS)])});
    let request: CatchUpRequest;
    try {
      request = (decodeWireMessage(raw.subarray(), MAX_REQUEST_MESSAGE_BYTES, [WireKind.REQUEST]) as {request: CatchUpRequest}).request;
    } catch (e) {
      if (!(e instanceof CalendarError)) throw e;
      await lp.write(encodeEnd(`bad request: ${e.code}`.slice(0, 200)), {signal});
      return;
    }
    const cal = registry.get(request.calendarId);
    if (cal === null) {
      await lp.write(encodeEnd("unknown calendar"), {signal});
      return;
    }
    let from = request.fromSeq;
    let chainBefore = request.prevChain;
    for (;;) {
      signal.throwIfAborted();
      const piece = await cal.store.readPiece(from, request.maxBytes, chainBefore);
      if (piece === null) break;
      if (piece.frames.length > MAX_BATCH_BYTES) {
        // Only a journal with segments over 32 MiB has such a gap between heads (the federation refuses them at start).
        await lp.write(encodeEnd(`records ${from}..${piece.head.length} exceed one reply`), {signal});
        return;
      }
      // Awaiting each write is the back-pressure: a slow reader holds one piece here, not the journal.
      await lp.write(encodePiece({fromSeq: from, prevChain: null, frames: piece.frames, head: piece.head}), {signal: AbortSignal.any([signal, AbortSignal.timeout(CATCH_UP_IDLE_MS)])});
      from = piece.head.length;
      chainBefore = piece.head.chainHash;
    }
    await lp.write(encodeEnd(""), {signal});
  } catch (e) {
    logger.debug("catch-up stream ended early", {error: (e as Error).message});
    stream.abort(e as Error);
    return;
  }
  await stream.close().catch(() => {});
}

/** What the peer said when it stopped: "" = nothing beyond its newest head. */
export type FetchEnd = {reason: string};

/**
 * Ask over `stream` for `calendarId`'s records from `fromSeq`, yielding each
 * piece as it arrives (the caller imports it before the next is read).
 * Returns the peer's END reason. A reply that does not decode, or a piece
 * that does not start where the previous head ended, is PeerMisbehaved.
 */
export async function* fetchJournal(stream: Stream, calendarId: Uint8Array, fromSeq: number, prevChain: Uint8Array, signal: AbortSignal): AsyncGenerator<JournalPiece, FetchEnd> {
  const lp = lpStream(stream, LP_REPLY);
  try {
    await lp.write(encodeRequest({calendarId, fromSeq, maxBytes: CATCH_UP_PIECE_BYTES, prevChain}), {signal});
    let expect = fromSeq;
    for (;;) {
      let raw;
      try {
        raw = await lp.read({signal: AbortSignal.any([signal, AbortSignal.timeout(CATCH_UP_IDLE_MS)])});
      } catch (e) {
        const name = (e as Error).name;
        if (name === "InvalidDataLengthError" || name === "InvalidMessageLengthError" || name === "InvalidDataLengthLengthError") throw new PeerMisbehaved("WIRE_TOO_LARGE", `reply message over ${MAX_REPLY_MESSAGE_BYTES} bytes`);
        throw e;
      }
      let msg;
      try {
        msg = decodeWireMessage(raw.subarray(), MAX_REPLY_MESSAGE_BYTES, [WireKind.PIECE, WireKind.END]);
      } catch (e) {
        if (e instanceof CalendarError) throw new PeerMisbehaved(e.code, `catch-up reply does not decode: ${e.message}`);
        throw e;
      }
      if (msg.kind === WireKind.END) return {reason: msg.reason};
      if (msg.kind !== WireKind.PIECE) throw new PeerMisbehaved("WIRE_WRONG_KIND", "unexpected message in a catch-up reply");
      if (msg.piece.fromSeq !== expect) throw new PeerMisbehaved("WIRE_BAD_PIECE", `piece starts at record ${msg.piece.fromSeq}, expected ${expect}`);
      if (msg.piece.head.length <= expect) throw new PeerMisbehaved("WIRE_BAD_PIECE", "piece head does not move forward");
      expect = msg.piece.head.length;
      yield msg.piece;
    }
  } finally {
    await stream.close().catch(() => stream.abort(new Error("catch-up closed")));
  }
}
