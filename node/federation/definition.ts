/**
 * The federation definition: the small versioned JSON file every operator
 * of a federation holds (its "genesis"), naming the federation and its
 * members — each member's calendar id (its libp2p peer id, from its
 * identity.key), public HTTP URL, libp2p multiaddrs and rank:
 *
 *   {"otsfedFederation": 1, "name": "example", "members": [
 *     {"calendarId": "12D3KooW…", "url": "https://a.example.net",
 *      "p2p": ["/dns4/a.example.net/tcp/4001"], "rank": 0}]}
 *
 * Parsed strictly (STYLE §11, §12): every key is known and checked, every
 * refusal names the file and where in it (`members[2].url`). A file may name
 * no member yet (`otsfed federation init` writes one, `add-member` fills
 * it); a node joins only a definition that names it ({@link requireMember}).
 * Members are kept in rank order, and the encoding is canonical, so two
 * operators' copies of one definition are the same bytes.
 */
import {readFile, stat} from "node:fs/promises";
import {multiaddr} from "@multiformats/multiaddr";
import {TCP, WebSockets, WebSocketsSecure} from "@multiformats/multiaddr-matcher";
import {CalendarError} from "../../protocol/errors.ts";
import {checkCalendarUrl} from "../http/options.ts";
import {calendarIdFromString, calendarIdToString} from "../identity.ts";

export type FederationMember = {
  /** The member's calendar id as a peer id string (`12D3KooW…`): an Ed25519 libp2p peer id. */
  calendarId: string;
  /** The calendar's public URL, as in its Pending attestations: a bare origin. */
  url: string;
  /** Multiaddrs its libp2p host is reached at (TCP, or WebSockets: `/ws`, `/wss`). */
  p2p: string[];
  /** Its place in the federation's order (unique, not necessarily contiguous). */
  rank: number;
};

export type FederationDefinition = {version: 1; name: string; members: FederationMember[]};

/** The key that says a JSON file is a federation definition, and of which version. */
export const DEFINITION_VERSION_KEY = "otsfedFederation";
/** The definition versions this otsfed reads. */
export const SUPPORTED_DEFINITION_VERSIONS: readonly number[] = [1];
/** A federation name goes into topic names and protocol ids: short, lowercase, no separators but `-`. */
export const MAX_FEDERATION_NAME_LENGTH = 64;
/** Every member dials every other one: a federation is a handful of operators, not a crowd. */
export const MAX_FEDERATION_MEMBERS = 64;
/** Addresses per member: enough for several transports and families. */
export const MAX_MEMBER_P2P_ADDRS = 16;
/** Longest multiaddr string accepted, checked before it is parsed. */
export const MAX_MULTIADDR_LENGTH = 256;
/**
 * Largest definition file read. 64 members with 16 addresses of 256
 * characters each is under 300 KB of JSON; anything beyond is not a
 * definition, and is refused before it is read.
 */
export const MAX_DEFINITION_FILE_BYTES = 1024 * 1024;

export const FederationErrorCode = {
  /** The file is not a valid federation definition: not JSON, a bad or unknown key, a duplicate member. */
  BAD_DEFINITION: "FEDERATION_BAD_DEFINITION",
  /** A definition of a version this otsfed does not read. */
  UNSUPPORTED_VERSION: "FEDERATION_UNSUPPORTED_VERSION",
  /** The definition file cannot be read (missing, a directory, no permission). */
  UNREADABLE: "FEDERATION_UNREADABLE",
  /** The definition does not name the starting node (or names no member at all). */
  NOT_MEMBER: "FEDERATION_NOT_MEMBER",
  /** `add-member`: the definition already names this node, or another member has its URL. */
  ALREADY_MEMBER: "FEDERATION_ALREADY_MEMBER",
} as const;
export type FederationErrorCode = (typeof FederationErrorCode)[keyof typeof FederationErrorCode];
export class FederationError extends CalendarError<{code: FederationErrorCode}> {}

const TOP_KEYS = [DEFINITION_VERSION_KEY, "name", "members"] as const;
const MEMBER_KEYS = ["calendarId", "url", "p2p", "rank"] as const;

/** A problem at one place in a definition; {@link parseFederationDefinition} prefixes the file. */
class Refusal extends Error {
  readonly code: FederationErrorCode;

  constructor(where: string, problem: string, code: FederationErrorCode = FederationErrorCode.BAD_DEFINITION) {
    super(where === "" ? problem : `${where}: ${problem}`);
    this.code = code;
  }
}

/** Why `name` cannot name a federation, or null if it can. */
export function federationNameProblem(name: unknown): string | null {
  if (typeof name !== "string") return "must be a string";
  if (name.length < 1 || name.length > MAX_FEDERATION_NAME_LENGTH || !/^[a-z0-9-]+$/.test(name)) {
    return `must be 1 to ${MAX_FEDERATION_NAME_LENGTH} characters of a-z, 0-9 and '-' (it goes into topic names and protocol ids)`;
  }
  return null;
}

/** Why `id` cannot be a member's calendar id, or null if it can. */
export function calendarIdProblem(id: unknown): string | null {
  if (typeof id !== "string") return "must be a string";
  const bytes = calendarIdFromString(id);
  if (bytes === null) return `'${clip(id)}' is not an Ed25519 libp2p peer id (a calendar id embeds its public key: 12D3KooW…, as 'otsfed identity' prints it)`;
  const canonical = calendarIdToString(bytes) as string;
  if (canonical !== id) return `write it as ${canonical}, the form 'otsfed identity' prints`;
  return null;
}

/** Why `url` cannot be a member's URL, or null if it can. */
export function memberUrlProblem(url: unknown): string | null {
  if (typeof url !== "string") return "must be a string";
  try {
    checkCalendarUrl(url);
  } catch (e) {
    if (e instanceof CalendarError) return e.message;
    throw e;
  }
  return null;
}

/**
 * Why `addr` cannot be one of member `calendarId`'s libp2p addresses, or
 * null if it can: a multiaddr in its canonical form that the node's
 * transports (TCP, WebSockets) can dial, naming no other peer (not checked
 * when `calendarId` is null: the member is not known yet).
 */
export function memberAddressProblem(addr: unknown, calendarId: string | null): string | null {
  if (typeof addr !== "string") return "must be a string";
  if (addr.length > MAX_MULTIADDR_LENGTH) return `is ${addr.length} characters; a multiaddr here is at most ${MAX_MULTIADDR_LENGTH}`;
  let canonical: string;
  let ma: ReturnType<typeof multiaddr>;
  try {
    ma = multiaddr(addr);
    canonical = ma.toString();
  } catch (e) {
    return `'${clip(addr)}' is not a multiaddr (${(e as Error).message})`;
  }
  if (canonical !== addr) return `write it as ${canonical}`;
  if (!TCP.exactMatch(ma) && !WebSockets.exactMatch(ma) && !WebSocketsSecure.exactMatch(ma)) {
    return `'${addr}' is not an address TCP or WebSockets can dial (like /dns4/a.example.net/tcp/4001 or /ip4/192.0.2.1/tcp/4002/ws)`;
  }
  const peer = ma.getComponents().find((c) => c.name === "p2p")?.value;
  if (peer !== undefined && calendarId !== null && peer !== calendarId) return `'${addr}' names the peer ${peer}, not this member`;
  return null;
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function refuseUnknownKeys(obj: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) throw new Refusal(where, `unknown key '${clip(k)}' (known: ${known.join(", ")})`);
  }
}

function readVersion(obj: Record<string, unknown>): 1 {
  const v = obj[DEFINITION_VERSION_KEY];
  const readable = `this otsfed reads version${SUPPORTED_DEFINITION_VERSIONS.length > 1 ? "s" : ""} ${SUPPORTED_DEFINITION_VERSIONS.join(", ")}`;
  if (v === undefined) throw new Refusal("", `not a federation definition: no '${DEFINITION_VERSION_KEY}' key (the definition version; ${readable})`);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) throw new Refusal(DEFINITION_VERSION_KEY, `must be a definition version, a positive integer (${readable})`);
  if (!SUPPORTED_DEFINITION_VERSIONS.includes(v)) throw new Refusal(DEFINITION_VERSION_KEY, `version ${v} is not supported: ${readable} (a newer otsfed may)`, FederationErrorCode.UNSUPPORTED_VERSION);
  return 1;
}

function readMember(v: unknown, where: string): FederationMember {
  if (!isObject(v)) throw new Refusal(where, "must be an object with calendarId, url, p2p and rank");
  refuseUnknownKeys(v, MEMBER_KEYS, where);
  for (const k of MEMBER_KEYS) if (!(k in v)) throw new Refusal(where, `missing key '${k}'`);
  const idProblem = calendarIdProblem(v.calendarId);
  if (idProblem !== null) throw new Refusal(`${where}.calendarId`, idProblem);
  const calendarId = v.calendarId as string;
  const urlProblem = memberUrlProblem(v.url);
  if (urlProblem !== null) throw new Refusal(`${where}.url`, urlProblem);
  const p2p = v.p2p;
  if (!Array.isArray(p2p) || p2p.length < 1 || p2p.length > MAX_MEMBER_P2P_ADDRS) throw new Refusal(`${where}.p2p`, `must be a list of 1 to ${MAX_MEMBER_P2P_ADDRS} multiaddrs`);
  for (const [i, addr] of p2p.entries()) {
    const problem = memberAddressProblem(addr, calendarId);
    if (problem !== null) throw new Refusal(`${where}.p2p[${i}]`, problem);
    if (p2p.indexOf(addr) !== i) throw new Refusal(`${where}.p2p[${i}]`, `'${addr}' is listed twice (also p2p[${p2p.indexOf(addr)}])`);
  }
  const rank = v.rank;
  if (typeof rank !== "number" || !Number.isSafeInteger(rank) || rank < 0) throw new Refusal(`${where}.rank`, "must be a non-negative integer");
  return {calendarId, url: v.url as string, p2p: [...(p2p as string[])], rank};
}

/** Refuse a member named twice, two members at one rank or one URL: `where` names both. */
function refuseDuplicates(members: readonly FederationMember[]): void {
  const seen = {calendarId: new Map<string, number>(), rank: new Map<number, number>(), url: new Map<string, number>()};
  for (const [i, m] of members.entries()) {
    const id = seen.calendarId.get(m.calendarId);
    if (id !== undefined) throw new Refusal(`members[${i}].calendarId`, `${m.calendarId} is named twice (also members[${id}])`);
    const rank = seen.rank.get(m.rank);
    if (rank !== undefined) throw new Refusal(`members[${i}].rank`, `rank ${m.rank} is also members[${rank}]'s; each member has its own`);
    // Host names are case-insensitive: two spellings of one origin are one calendar URL.
    const url = seen.url.get(m.url.toLowerCase());
    if (url !== undefined) throw new Refusal(`members[${i}].url`, `${m.url} is also members[${url}]'s; each calendar has its own URL`);
    seen.calendarId.set(m.calendarId, i);
    seen.rank.set(m.rank, i);
    seen.url.set(m.url.toLowerCase(), i);
  }
}

/** Members in rank order (a copy). */
function byRank(members: readonly FederationMember[]): FederationMember[] {
  return [...members].sort((a, b) => a.rank - b.rank);
}

/**
 * Parse the text of definition file `file` (named in every refusal), strictly:
 * a FederationError `<file>: <where>: <problem>`, with code
 * UNSUPPORTED_VERSION for a later version and BAD_DEFINITION for anything
 * else. The members come back in rank order. A definition naming no member
 * is accepted here (init writes one); {@link requireMember} refuses it.
 */
export function parseFederationDefinition(text: string, file: string): FederationDefinition {
  try {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new Refusal("", `not JSON (${(e as Error).message})`);
    }
    if (!isObject(parsed)) throw new Refusal("", "must hold a JSON object");
    const version = readVersion(parsed);
    refuseUnknownKeys(parsed, TOP_KEYS, "");
    if (!("name" in parsed)) throw new Refusal("", "missing key 'name'");
    const nameProblem = federationNameProblem(parsed.name);
    if (nameProblem !== null) throw new Refusal("name", nameProblem);
    const members = parsed.members;
    if (members === undefined) throw new Refusal("", "missing key 'members'");
    if (!Array.isArray(members) || members.length > MAX_FEDERATION_MEMBERS) throw new Refusal("members", `must be a list of at most ${MAX_FEDERATION_MEMBERS} members`);
    const read = members.map((m, i) => readMember(m, `members[${i}]`));
    refuseDuplicates(read);
    return {version, name: parsed.name as string, members: byRank(read)};
  } catch (e) {
    if (e instanceof Refusal) throw new FederationError({code: e.code}, `${file}: ${e.message}`);
    throw e;
  }
}

/** Read and parse definition file `file`; refuses one too large to be a definition before reading it. */
export async function loadFederationDefinition(file: string): Promise<FederationDefinition> {
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new FederationError({code: FederationErrorCode.UNREADABLE}, `${file}: not a file`);
    if (st.size > MAX_DEFINITION_FILE_BYTES) throw new FederationError({code: FederationErrorCode.BAD_DEFINITION}, `${file}: ${st.size} bytes; a federation definition is at most ${MAX_DEFINITION_FILE_BYTES}`);
    text = await readFile(file, "utf8");
  } catch (e) {
    if (e instanceof FederationError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    throw new FederationError({code: FederationErrorCode.UNREADABLE}, `${file}: cannot read it (${code})`);
  }
  return parseFederationDefinition(text, file);
}

/**
 * The one encoding of a definition: keys in a fixed order, members in rank
 * order, two-space indentation, a final newline. Writes only the
 * definition's own fields, and leaves `def` alone.
 */
export function encodeFederationDefinition(def: FederationDefinition): string {
  const doc = {
    [DEFINITION_VERSION_KEY]: def.version,
    name: def.name,
    members: byRank(def.members).map((m) => ({calendarId: m.calendarId, url: m.url, p2p: [...m.p2p], rank: m.rank})),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The member whose calendar id is `peerId`, or null. */
export function memberOf(def: FederationDefinition, peerId: string): FederationMember | null {
  return def.members.find((m) => m.calendarId === peerId) ?? null;
}

/** Refuse a definition that names no member: nothing to join or to mirror. */
export function requireMembers(def: FederationDefinition, file: string): void {
  if (def.members.length === 0) {
    throw new FederationError({code: FederationErrorCode.NOT_MEMBER}, `${file}: names no members yet; add each with 'otsfed federation add-member ${file} --data-dir DIR --url URL --p2p ADDR'`);
  }
}

/**
 * The starting node's own entry in the definition: refuses (NOT_MEMBER,
 * naming `file` and the fix) a definition that names no member or not this
 * node.
 */
export function requireMember(def: FederationDefinition, peerId: string, file: string): FederationMember {
  requireMembers(def, file);
  const member = memberOf(def, peerId);
  if (member === null) {
    throw new FederationError(
      {code: FederationErrorCode.NOT_MEMBER},
      `${file}: does not name this node (${peerId}) as a member of federation ${def.name}: add it with 'otsfed federation add-member', or run it as a mirror ('otsfed mirror')`,
    );
  }
  return member;
}

/** A versioned gossip topic or stream protocol id of the federation: `/otsfed/<name>/<kind>/<version>`. */
export function federationTopic(def: {name: string}, kind: string, version = 1): string {
  return `/otsfed/${def.name}/${kind}/${version}`;
}
