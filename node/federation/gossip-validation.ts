/**
 * Validation of gossip, before gossipsub forwards or delivers a message,
 * and without side effects: size first, then the publisher, then a strict
 * decode (protocol/federation/wire.ts), then the content — a piece's
 * records must hash from its own start to its head, and the head must carry
 * its calendar's signature. Anything else is rejected with a reason from a
 * fixed set (a metric label), which also makes gossipsub score the sender
 * down. Continuity with our copy is not checked here: that needs state, and
 * is the mirror's (mirror-follower.ts).
 */
import {decodeWireMessage, checkPiece, MAX_GOSSIP_MESSAGE_BYTES, MAX_HEAD_MESSAGE_BYTES, WireKind} from "../../protocol/federation/wire.ts";
import type {JournalPiece} from "../../protocol/federation/wire.ts";
import type {BatchRecord} from "../../protocol/journal/batch.ts";
import {bytesEqual} from "../../protocol/ots/bytes.ts";
import {verifyCheckpoint} from "../../protocol/journal/checkpoint.ts";
import type {Checkpoint} from "../../protocol/journal/checkpoint.ts";
import {CalendarError} from "../../protocol/errors.ts";
import {nativeSha256} from "../hash.ts";
import type {Roster, RosterMember} from "./roster.ts";

/** Why a message was rejected: a bounded set (metric label, status page). */
export const REJECT_REASONS = ["unsigned", "non-member", "too-large", "malformed", "not-origin", "bad-records", "bad-signature"] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type ValidPiece = {member: RosterMember; piece: JournalPiece; records: BatchRecord[]};
export type ValidHead = {member: RosterMember; head: Checkpoint};

export type Verdict<T> = {ok: true; value: T} | {ok: false; reason: RejectReason; detail: string};

function reject(reason: RejectReason, detail: string): {ok: false; reason: RejectReason; detail: string} {
  return {ok: false, reason, detail};
}

/** The publisher must be a member, and (only origins publish their journals) the calendar the message is about. */
function checkPublisher(roster: Roster, from: string | null, calendarId: Uint8Array): Verdict<RosterMember> {
  if (from === null) return reject("unsigned", "message without a signed publisher");
  const member = roster.member(from);
  if (member === null) return reject("non-member", `publisher ${from} is not a member of ${roster.name}`);
  if (!bytesEqual(member.calendarIdBytes, calendarId)) return reject("not-origin", `member ${from} published another calendar's journal`);
  return {ok: true, value: member};
}

/** A records-topic message: a piece of its publisher's journal. */
export async function validateRecordsMessage(roster: Roster, from: string | null, data: Uint8Array): Promise<Verdict<ValidPiece>> {
  if (data.length > MAX_GOSSIP_MESSAGE_BYTES) return reject("too-large", `${data.length} bytes, over ${MAX_GOSSIP_MESSAGE_BYTES}`);
  if (from === null) return reject("unsigned", "message without a signed publisher");
  if (roster.member(from) === null) return reject("non-member", `publisher ${from} is not a member of ${roster.name}`);
  let piece: JournalPiece;
  try {
    const msg = decodeWireMessage(data, MAX_GOSSIP_MESSAGE_BYTES, [WireKind.PIECE]);
    piece = (msg as {piece: JournalPiece}).piece;
  } catch (e) {
    if (e instanceof CalendarError) return reject("malformed", `${e.code}: ${e.message}`);
    throw e;
  }
  if (piece.prevChain === null) return reject("malformed", "a gossiped piece must carry its prevChain");
  const publisher = checkPublisher(roster, from, piece.head.calendarId);
  if (!publisher.ok) return publisher;
  let records: BatchRecord[];
  try {
    records = checkPiece(piece, publisher.value.calendarIdBytes, {fromSeq: piece.fromSeq, prevChain: piece.prevChain}, nativeSha256);
  } catch (e) {
    if (e instanceof CalendarError) return reject("bad-records", `${e.code}: ${e.message}`);
    throw e;
  }
  try {
    await verifyCheckpoint(piece.head, publisher.value.verify);
  } catch (e) {
    if (e instanceof CalendarError) return reject("bad-signature", `${e.code}: ${e.message}`);
    throw e;
  }
  return {ok: true, value: {member: publisher.value, piece, records}};
}

/** A head-topic message: its publisher's signed head. */
export async function validateHeadMessage(roster: Roster, from: string | null, data: Uint8Array): Promise<Verdict<ValidHead>> {
  if (data.length > MAX_HEAD_MESSAGE_BYTES) return reject("too-large", `${data.length} bytes, over ${MAX_HEAD_MESSAGE_BYTES}`);
  if (from === null) return reject("unsigned", "message without a signed publisher");
  if (roster.member(from) === null) return reject("non-member", `publisher ${from} is not a member of ${roster.name}`);
  let head: Checkpoint;
  try {
    head = (decodeWireMessage(data, MAX_HEAD_MESSAGE_BYTES, [WireKind.HEAD]) as {head: Checkpoint}).head;
  } catch (e) {
    if (e instanceof CalendarError) return reject("malformed", `${e.code}: ${e.message}`);
    throw e;
  }
  const publisher = checkPublisher(roster, from, head.calendarId);
  if (!publisher.ok) return publisher;
  try {
    await verifyCheckpoint(head, publisher.value.verify);
  } catch (e) {
    if (e instanceof CalendarError) return reject("bad-signature", `${e.code}: ${e.message}`);
    throw e;
  }
  return {ok: true, value: {member: publisher.value, head}};
}
