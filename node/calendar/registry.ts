/**
 * Every calendar a node holds, behind one index: its own (the origin, which
 * the node writes and signs) and any number of mirrors (verified copies of
 * other members' journals). Queries route by the commitment's tag to
 * whichever calendar holds it, so a node answers for all of them.
 *
 *   <dataDir>/identity.key            the node's key: its own calendar's id
 *   <dataDir>/journal/                the own calendar's journal (as before mirrors existed)
 *   <dataDir>/mirrors/<peer id>/      one journal per mirrored calendar, same format
 *   <dataDir>/index/                  the one LevelDB index of all of them
 *
 * Opening takes the index's lock first (so a second node cannot open the
 * data dir), wipes an index of an older schema (it is derived: each calendar
 * then rebuilds its part from its journal), and opens the own calendar and
 * every mirror found on disk.
 */
import {mkdir, readdir, stat} from "node:fs/promises";
import {join} from "node:path";
import {bytesEqual, toHex} from "../../protocol/ots/bytes.ts";
import {CALENDAR_TAG_SIZE, COMMITMENT_SIZE} from "../../protocol/journal/commitment.ts";
import {ROUND_ROOT_SIZE} from "../../protocol/journal/round.ts";
import {calendarIdFromString, calendarIdToString, verifierForCalendarId} from "../identity.ts";
import type {Identity} from "../identity.ts";
import type {Logger} from "../logger.ts";
import type {Metrics} from "../metrics.ts";
import {Calendar} from "./calendar.ts";
import type {CommitmentStatus, FreshIndex} from "./calendar.ts";
import {CommitmentIndex, INDEX_DIR, INDEX_SCHEMA_VERSION} from "./commitment-index.ts";
import {StoreError, StoreErrorCode} from "./errors.ts";
import {JOURNAL_DIR} from "./journal-store.ts";
import type {JournalOptions, JournalRecord, JournalTarget} from "./journal-store.ts";
import {StampProofCache} from "./stamp-proofs.ts";

export const MIRRORS_DIR = "mirrors";

/** Leaves of stamp trees kept in memory at most, over all calendars (64 bytes each with the tree above them). */
export const DEFAULT_PROOF_CACHE_LEAVES = 4_000_000;

export type RegistryModules = {logger: Logger; metrics: Metrics | null; identity: Identity};

/** A commitment found, with the calendar that holds it. */
export type CommitmentLookup = {calendar: Calendar; status: NonNullable<CommitmentStatus>};

/** The journal target of the node's own calendar in `dataDir`. */
export function originTarget(dataDir: string, identity: Identity): JournalTarget {
  return {dir: join(dataDir, JOURNAL_DIR), calendarId: identity.calendarId, sign: (data) => identity.sign(data), verify: (data, sig) => identity.verify(data, sig)};
}

/** The journal target of a mirror of `calendarId` in `dataDir`; throws UNKNOWN_CALENDAR if the id embeds no Ed25519 key. */
export function mirrorTarget(dataDir: string, calendarId: Uint8Array): JournalTarget {
  const name = calendarIdToString(calendarId);
  const verify = verifierForCalendarId(calendarId);
  if (name === null || verify === null) throw new StoreError({code: StoreErrorCode.UNKNOWN_CALENDAR}, `calendar id ${toHex(calendarId)} does not embed an Ed25519 public key: its heads could not be verified`);
  return {dir: join(dataDir, MIRRORS_DIR, name), calendarId, sign: null, verify};
}

export class CalendarRegistry {
  /** The node's own calendar. */
  readonly own: Calendar;
  readonly index: CommitmentIndex;
  /** Why the whole index was wiped at open (older schema, missing), or null when it was kept. */
  readonly indexReset: string | null;
  private readonly dataDir: string;
  private readonly opts: JournalOptions;
  private readonly logger: Logger;
  private readonly metrics: Metrics | null;
  private readonly proofs: StampProofCache;
  /** By tag (hex): a commitment names its calendar by tag. */
  private readonly byTag = new Map<string, Calendar>();
  private readonly listeners = new Set<(calendar: Calendar, records: readonly JournalRecord[]) => void>();
  private adding: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(dataDir: string, opts: JournalOptions, modules: RegistryModules, index: CommitmentIndex, proofs: StampProofCache, own: Calendar, indexReset: string | null) {
    this.dataDir = dataDir;
    this.opts = opts;
    this.logger = modules.logger;
    this.metrics = modules.metrics;
    this.index = index;
    this.proofs = proofs;
    this.own = own;
    this.indexReset = indexReset;
    this.hold(own);
  }

  /** Open the index, the own calendar and every mirror in `dataDir`, recovering and syncing each. */
  static async open(dataDir: string, opts: JournalOptions, modules: RegistryModules, proofCacheLeaves = DEFAULT_PROOF_CACHE_LEAVES): Promise<CalendarRegistry> {
    const {logger, metrics, identity} = modules;
    // The index is opened first: its LevelDB lock keeps a second node off this data dir.
    const {index, recreated} = await CommitmentIndex.openOrRebuild(join(dataDir, INDEX_DIR), logger);
    const opened: Calendar[] = [];
    try {
      await index.checkSchema();
      const schema = await index.schema();
      let fresh: FreshIndex = null;
      if (schema < INDEX_SCHEMA_VERSION) {
        fresh = {reason: recreated ?? (schema === 0 ? "index is empty or missing" : `index schema ${schema} is older than this otsfed's ${INDEX_SCHEMA_VERSION}`)};
        if (schema !== 0) logger.warn("index written by an older otsfed; rebuilding it from the journals", {schema, current: INDEX_SCHEMA_VERSION});
        await index.reset();
      }
      const proofs = new StampProofCache(proofCacheLeaves);
      const calendarModules = {logger: logger.child({calendar: "own"}), metrics, index, proofs};
      const own = await Calendar.open(originTarget(dataDir, identity), opts, calendarModules, fresh);
      opened.push(own);
      const registry = new CalendarRegistry(dataDir, opts, modules, index, proofs, own, fresh?.reason ?? null);
      for (const id of await listMirrors(dataDir)) {
        if (bytesEqual(id, identity.calendarId)) throw new StoreError({code: StoreErrorCode.UNKNOWN_CALENDAR}, `${join(dataDir, MIRRORS_DIR)} holds a mirror of this node's own calendar`);
        const cal = await registry.openMirror(id, fresh);
        opened.push(cal);
      }
      return registry;
    } catch (e) {
      for (const c of opened) await c.close().catch(() => {});
      await index.close().catch(() => {});
      throw e;
    }
  }

  /** Every calendar held, the own one first. */
  calendars(): Calendar[] {
    return [...this.byTag.values()];
  }

  /** The mirrored calendars. */
  mirrors(): Calendar[] {
    return this.calendars().filter((c) => c.role === "mirror");
  }

  /** The calendar with this id, or null. */
  get(calendarId: Uint8Array): Calendar | null {
    for (const c of this.byTag.values()) if (bytesEqual(c.id, calendarId)) return c;
    return null;
  }

  /**
   * Start mirroring `calendarId`: an empty journal under mirrors/, filled
   * only by `importBatch`. Refused (UNKNOWN_CALENDAR) for the own calendar,
   * one already held, an id without an Ed25519 key, or a tag another held
   * calendar has (commitments are routed by tag).
   */
  addMirror(calendarId: Uint8Array): Promise<Calendar> {
    const run = this.adding.then(async () => {
      if (this.closed) throw new StoreError({code: StoreErrorCode.CLOSED}, "calendar registry is closed");
      if (this.get(calendarId) !== null) throw new StoreError({code: StoreErrorCode.UNKNOWN_CALENDAR}, `calendar ${calendarIdToString(calendarId) ?? toHex(calendarId)} is already held`);
      await mkdir(join(this.dataDir, MIRRORS_DIR), {recursive: true});
      const cal = await this.openMirror(calendarId, null);
      this.logger.info("mirror added", {calendar: calendarIdToString(calendarId)});
      return cal;
    });
    this.adding = run.catch(() => {});
    return run;
  }

  private async openMirror(calendarId: Uint8Array, fresh: FreshIndex): Promise<Calendar> {
    const target = mirrorTarget(this.dataDir, calendarId);
    const cal = await Calendar.open(target, this.opts, {logger: this.logger.child({calendar: calendarIdToString(calendarId)}), metrics: this.metrics, index: this.index, proofs: this.proofs}, fresh);
    try {
      this.hold(cal);
    } catch (e) {
      await cal.close();
      throw e;
    }
    return cal;
  }

  private hold(cal: Calendar): void {
    const key = toHex(cal.tag);
    const other = this.byTag.get(key);
    if (other !== undefined) throw new StoreError({code: StoreErrorCode.UNKNOWN_CALENDAR}, `calendars ${calendarIdToString(other.id)} and ${calendarIdToString(cal.id)} share the tag ${key}: their commitments could not be told apart`);
    this.byTag.set(key, cal);
    cal.onRecords((records) => {
      for (const l of this.listeners) l(cal, records);
    });
  }

  /** Which held calendar `msg` belongs to (by its tag) and how far along it is; null if none holds it. */
  async lookup(msg: Uint8Array): Promise<CommitmentLookup | null> {
    if (msg.length !== COMMITMENT_SIZE) return null;
    const cal = this.byTag.get(toHex(msg.subarray(ROUND_ROOT_SIZE, ROUND_ROOT_SIZE + CALENDAR_TAG_SIZE)));
    if (cal === undefined) return null;
    const status = await cal.lookup(msg);
    return status === null ? null : {calendar: cal, status};
  }

  /**
   * Be told of every record of every calendar held (also ones added later),
   * once durable and indexed, in order per calendar. Synchronous (see
   * `Calendar.onRecords`). Returns the unsubscribe function.
   */
  onRecords(listener: (calendar: Calendar, records: readonly JournalRecord[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Close every calendar, then the index (its lock goes last). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.adding;
    try {
      for (const c of this.byTag.values()) await c.close();
    } finally {
      this.listeners.clear();
      await this.index.close();
    }
  }
}

/** Calendar ids of the mirrors under `dataDir/mirrors/`, refusing a directory that is not named for one. */
async function listMirrors(dataDir: string): Promise<Uint8Array[]> {
  const dir = join(dataDir, MIRRORS_DIR);
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const out: Uint8Array[] = [];
  for (const name of names) {
    if (!(await stat(join(dir, name))).isDirectory()) continue;
    const id = calendarIdFromString(name);
    if (id === null) throw new StoreError({code: StoreErrorCode.UNKNOWN_CALENDAR}, `${join(dir, name)} is not named for a calendar (an Ed25519 peer id like 12D3KooW…); move it out of ${dir}`);
    out.push(id);
  }
  return out;
}
