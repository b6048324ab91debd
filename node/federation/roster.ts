/**
 * The federation's members as the running node needs them: by peer id
 * string (what libp2p tells us a message came from), with each one's
 * calendar id bytes and signature verifier, and the topics and stream
 * protocol named for the federation.
 */
import {toHex} from "../../protocol/ots/bytes.ts";
import {calendarIdFromString, verifierForCalendarId} from "../identity.ts";
import {federationTopic} from "./definition.ts";
import type {FederationDefinition, FederationMember} from "./definition.ts";

export type RosterMember = FederationMember & {
  calendarIdBytes: Uint8Array;
  verify: (data: Uint8Array, signature: Uint8Array) => Promise<boolean>;
};

export class Roster {
  readonly name: string;
  readonly members: readonly RosterMember[];
  /** `/otsfed/<name>/records/1`: each calendar's new records, as signed pieces. */
  readonly recordsTopic: string;
  /** `/otsfed/<name>/head/1`: each calendar's signed head, now and then (lag, and missed pieces). */
  readonly headTopic: string;
  /** `/otsfed/<name>/journal/1`: the catch-up stream protocol. */
  readonly journalProtocol: string;
  private readonly byPeerId = new Map<string, RosterMember>();
  private readonly byCalendarHex = new Map<string, RosterMember>();

  constructor(def: FederationDefinition) {
    this.name = def.name;
    this.recordsTopic = federationTopic(def, "records");
    this.headTopic = federationTopic(def, "head");
    this.journalProtocol = federationTopic(def, "journal");
    this.members = def.members.map((m) => {
      const bytes = calendarIdFromString(m.calendarId);
      const verify = bytes === null ? null : verifierForCalendarId(bytes);
      // The definition's parser already refused such ids; this guards a caller that skipped it.
      if (bytes === null || verify === null) throw new RangeError(`member ${m.calendarId} is not an Ed25519 peer id`);
      return {...m, calendarIdBytes: bytes, verify};
    });
    for (const m of this.members) {
      this.byPeerId.set(m.calendarId, m);
      this.byCalendarHex.set(toHex(m.calendarIdBytes), m);
    }
  }

  get topics(): string[] {
    return [this.recordsTopic, this.headTopic];
  }

  /** The member with this peer id string, or null (a non-member). */
  member(peerId: string): RosterMember | null {
    return this.byPeerId.get(peerId) ?? null;
  }

  /** The member whose calendar id these bytes are, or null. */
  memberByCalendar(calendarId: Uint8Array): RosterMember | null {
    return this.byCalendarHex.get(toHex(calendarId)) ?? null;
  }
}
