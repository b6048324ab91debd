/**
 * Every calendar's journal over plain HTTP, for mirrors without libp2p and
 * for caches (README "HTTP API"):
 *
 *   GET /journal/<calendar id>/head               200 the newest signed head this node holds (a checkpoint)
 *   GET /journal/<calendar id>/records?from=N     200 a piece: records from N up to a signed head (wire PIECE,
 *                                                 no prevChain), the same bytes a catch-up stream carries
 *                                                 404 "No records from N" | 404 "Unknown calendar" | 400 bad request
 *
 * Whoever serves them, a receiver checks pieces against the origin's
 * signature (protocol/federation/wire.ts, protocol/journal/batch.ts). A
 * piece that ends at a sealed segment's checkpoint never changes (cached
 * for a year); one that ends at the newest head grows stale (a few seconds).
 */
import {encodePiece} from "../../../protocol/federation/wire.ts";
import {encodeCheckpoint} from "../../../protocol/journal/checkpoint.ts";
import type {Checkpoint} from "../../../protocol/journal/checkpoint.ts";
import {MAX_BATCH_BYTES} from "../../../protocol/journal/batch.ts";
import {calendarIdFromString} from "../../identity.ts";
import {CacheControl, send, sendText} from "../responses.ts";
import type {Route, RouteRequest} from "../router.ts";

/** Bytes of records one reply holds at most (a client asks again from where it ended). */
export const HTTP_PIECE_BYTES = 4 * 1024 * 1024;

/** What the journal routes use: the calendars the node holds (the registry). */
export type JournalRoutesModules = {
  /** Absent: no journal routes (a server in front of no calendars). */
  journals?: {
    get(calendarId: Uint8Array): {length: number; store: {readPiece(fromSeq: number, maxBytes: number): Promise<{frames: Uint8Array; head: Checkpoint} | null>}; latestHead(): Promise<Checkpoint | null>} | null;
  };
};

/** `<id>/head` or `<id>/records?from=N`, split; null if it is neither. */
function parse(rest: string): {id: string; what: "head"} | {id: string; what: "records"; from: string | null} | null {
  const m = /^([1-9A-HJ-NP-Za-km-z]{1,64})\/(head|records)(?:\?(.*))?$/.exec(rest);
  if (!m) return null;
  if (m[2] === "head") return m[3] === undefined ? {id: m[1] as string, what: "head"} : null;
  const from = new URLSearchParams(m[3] ?? "").get("from");
  return {id: m[1] as string, what: "records", from};
}

async function getJournal(m: Required<JournalRoutesModules>, {res, rest}: RouteRequest): Promise<void> {
  const p = parse(rest);
  if (p === null) {
    sendText(res, 400, "expected /journal/<calendar id>/head or /journal/<calendar id>/records?from=<seq>");
    return;
  }
  const id = calendarIdFromString(p.id);
  const cal = id === null ? null : m.journals.get(id);
  if (cal === null) {
    sendText(res, 404, "Unknown calendar", {"Cache-Control": CacheControl.minute});
    return;
  }
  if (p.what === "head") {
    const head = await cal.latestHead();
    if (head === null) sendText(res, 404, "No signed head yet", {"Cache-Control": "no-cache"});
    else send(res, 200, encodeCheckpoint(head), "application/octet-stream", {"Cache-Control": "no-cache"});
    return;
  }
  if (p.from === null || !/^\d{1,16}$/.test(p.from) || !Number.isSafeInteger(Number(p.from))) {
    sendText(res, 400, "records needs ?from=<seq>, a record number");
    return;
  }
  const from = Number(p.from);
  const piece = await cal.store.readPiece(from, HTTP_PIECE_BYTES);
  if (piece === null || piece.frames.length > MAX_BATCH_BYTES) {
    sendText(res, 404, `No records from ${from}`, {"Cache-Control": "public, max-age=5"});
    return;
  }
  // A piece ending before the journal's end ends at a sealed segment: those bytes never change.
  const sealed = piece.head.length < cal.length;
  send(res, 200, encodePiece({fromSeq: from, prevChain: null, frames: piece.frames, head: piece.head}), "application/octet-stream", {"Cache-Control": sealed ? CacheControl.year : "public, max-age=5"});
}

/** GET /journal/<calendar id>/head, GET /journal/<calendar id>/records?from=N. */
export function journalRoutes(m: JournalRoutesModules): Route[] {
  const journals = m.journals;
  if (journals === undefined) return [];
  return [{method: "GET", path: "/journal/*", label: "journal", handle: (r) => getJournal({journals}, r)}];
}
