/**
 * The anchoring engine's durable memory: every cycle not yet confirmed and
 * handed over, with every version of its transaction that was (or may have
 * been) broadcast. Any of them can be the one a miner confirms, so each
 * version is written here, fsync'd, BEFORE it is sent: after a crash at any
 * point the engine still recognises whichever version lands in a block, and
 * never signs a second spend of the same coin for other content.
 *
 *   <dir>/state.json   replaced atomically on every change
 *
 * The engine knows what a version anchors only as its 32-byte root plus the
 * caller's description (JSON, opaque here, checked on load by the caller's
 * codec), which it keeps with the version and hands back on confirmation.
 *
 * JSON because it is small (a few cycles of a few versions), inspectable by
 * operators, and rewritten whole. It is checked field by field on load; a
 * damaged file stops the node with a message naming it rather than letting
 * it forget a broadcast.
 *
 * Format versions: 2 (written) keeps each version's `description`; 1 was
 * written by the calendar's stamper before the engine existed, with the
 * calendar's `ranges` and `leaves` where 2 has `description`. Version 1 files
 * are read as if those two fields were the description `{ranges, leaves}`, so
 * an upgrade with a transaction in flight loses nothing; the next save
 * writes version 2.
 */
import {mkdir, readFile} from "node:fs/promises";
import {dirname, join} from "node:path";
import {fromHex, toHex} from "../../protocol/ots/bytes.ts";
import {fsyncDir, writeFileAtomic} from "../fsutil.ts";
import {AnchorError, AnchorErrorCode} from "./errors.ts";

/** The file's name inside its directory. */
export const STATE_FILE = "state.json";
/** The `format` field. It predates the engine (the calendar's stamper wrote it first) and stays, so older files and operators' tools still recognise it. */
export const STATE_FORMAT = "otsfed-stamper-state";
/** The format version written. */
export const STATE_FORMAT_VERSION = 2;
/** The format version of the calendar stamper's files before the engine, still read. */
const LEGACY_FORMAT_VERSION = 1;

/** A JSON value: what a description is stored as. */
export type Json = null | boolean | number | string | Json[] | {[key: string]: Json};

/**
 * How a caller's version descriptions are stored: `encode` to JSON, and
 * `decode` back, checking every field (a damaged description must stop the
 * node like any other damage). `at` names where the description sits in the
 * file; a refusal's reason starts with it.
 */
export type DescriptionCodec<D> = {
  encode(description: D): Json;
  decode(json: unknown, at: string): {ok: true; value: D} | {ok: false; reason: string};
};

/** One signed transaction of a cycle. */
export type AnchorVersion<D> = {
  txid: Uint8Array;
  /** Signed, with witness: what was (or may have been) broadcast. */
  tx: Uint8Array;
  /** The 32 bytes its OP_RETURN carries. */
  root: Uint8Array;
  /** The caller's description of what `root` commits to. */
  description: D;
  feeRate: number;
  feeSats: bigint;
  vsize: number;
  /** Chain height when it was built (its nLockTime). */
  height: number;
  timeMs: number;
};

/** One coin being spent into an anchor, and every version of that spend. */
export type AnchorCycle<D> = {
  id: number;
  input: {txid: Uint8Array; vout: number; valueSats: bigint};
  /** The first version's feerate: where the fee schedule starts. */
  startFeeRate: number;
  /** Chain height at the first broadcast: the fee schedule counts blocks from it. */
  firstHeight: number;
  /** Still takes replacements with new content (false once any version was mined). */
  replaceable: boolean;
  versions: AnchorVersion<D>[];
  /** The version in the active chain, once one is. */
  mined: {version: number; blockHash: Uint8Array; height: number} | null;
};

/** Everything the file holds. */
export type AnchorState<D> = {nextCycleId: number; lastCycleStartMs: number; cycles: AnchorCycle<D>[]};

/** The state before anything was ever anchored. */
export function emptyAnchorState<D>(): AnchorState<D> {
  return {nextCycleId: 1, lastCycleStartMs: 0, cycles: []};
}

function encodeState<D>(s: AnchorState<D>, codec: DescriptionCodec<D>): Uint8Array {
  const json = {
    format: STATE_FORMAT,
    version: STATE_FORMAT_VERSION,
    nextCycleId: s.nextCycleId,
    lastCycleStartMs: s.lastCycleStartMs,
    cycles: s.cycles.map((c) => ({
      id: c.id,
      input: {txid: toHex(c.input.txid), vout: c.input.vout, valueSats: c.input.valueSats.toString()},
      startFeeRate: c.startFeeRate,
      firstHeight: c.firstHeight,
      replaceable: c.replaceable,
      mined: c.mined && {version: c.mined.version, blockHash: toHex(c.mined.blockHash), height: c.mined.height},
      versions: c.versions.map((v) => ({
        txid: toHex(v.txid),
        tx: toHex(v.tx),
        root: toHex(v.root),
        description: codec.encode(v.description),
        feeRate: v.feeRate,
        feeSats: v.feeSats.toString(),
        vsize: v.vsize,
        height: v.height,
        timeMs: v.timeMs,
      })),
    })),
  };
  return new TextEncoder().encode(JSON.stringify(json, null, 1) + "\n");
}

function bad(message: string): AnchorError {
  return new AnchorError({code: AnchorErrorCode.BAD_STATE, path: null}, message);
}

/** A checked reader for one JSON object, naming the path of anything wrong. */
class Fields {
  private readonly o: Record<string, unknown>;
  private readonly at: string;

  constructor(v: unknown, at: string) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(`${at} is not an object`);
    this.o = v as Record<string, unknown>;
    this.at = at;
  }

  int(k: string): number {
    const v = this.o[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw bad(`${this.at}.${k} is not a non-negative integer`);
    return v;
  }

  num(k: string): number {
    const v = this.o[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw bad(`${this.at}.${k} is not a number`);
    return v;
  }

  sats(k: string): bigint {
    const v = this.o[k];
    if (typeof v !== "string" || !/^\d{1,16}$/.test(v)) throw bad(`${this.at}.${k} is not an amount in satoshis`);
    return BigInt(v);
  }

  bytes(k: string, len?: number): Uint8Array {
    const v = this.o[k];
    const b = typeof v === "string" ? fromHex(v) : null;
    if (b === null || b.length === 0 || (len !== undefined && b.length !== len)) throw bad(`${this.at}.${k} is not ${len ?? "some"} bytes of hex`);
    return b;
  }

  bool(k: string): boolean {
    const v = this.o[k];
    if (typeof v !== "boolean") throw bad(`${this.at}.${k} is not true or false`);
    return v;
  }

  list(k: string): unknown[] {
    const v = this.o[k];
    if (!Array.isArray(v)) throw bad(`${this.at}.${k} is not a list`);
    return v;
  }

  raw(k: string): unknown {
    return this.o[k];
  }
}

function decodeState<D>(bytes: Uint8Array, codec: DescriptionCodec<D>): AnchorState<D> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", {fatal: true}).decode(bytes));
  } catch (e) {
    throw bad(`not JSON: ${(e as Error).message}`);
  }
  const top = new Fields(json, "state");
  if (top.raw("format") !== STATE_FORMAT) throw bad(`not an ${STATE_FORMAT} file`);
  const formatVersion = top.raw("version");
  if (formatVersion !== STATE_FORMAT_VERSION && formatVersion !== LEGACY_FORMAT_VERSION) {
    throw bad(`format version ${String(formatVersion)}, this otsfed reads ${LEGACY_FORMAT_VERSION} and ${STATE_FORMAT_VERSION}`);
  }
  const legacy = formatVersion === LEGACY_FORMAT_VERSION;
  const cycles = top.list("cycles").map((cv, ci): AnchorCycle<D> => {
    const c = new Fields(cv, `cycles[${ci}]`);
    const input = new Fields(c.raw("input"), `cycles[${ci}].input`);
    const versions = c.list("versions").map((vv, vi): AnchorVersion<D> => {
      const at = `cycles[${ci}].versions[${vi}]`;
      const v = new Fields(vv, at);
      const txid = v.bytes("txid", 32);
      const tx = v.bytes("tx");
      const root = v.bytes("root", 32);
      // Version 1's calendar fields sat on the version itself, so its messages name them there.
      const described = legacy ? codec.decode({ranges: v.raw("ranges"), leaves: v.raw("leaves")}, at) : codec.decode(v.raw("description"), `${at}.description`);
      if (!described.ok) throw bad(described.reason);
      return {
        txid,
        tx,
        root,
        description: described.value,
        feeRate: v.num("feeRate"),
        feeSats: v.sats("feeSats"),
        vsize: v.int("vsize"),
        height: v.int("height"),
        timeMs: v.int("timeMs"),
      };
    });
    if (versions.length === 0) throw bad(`cycles[${ci}] has no versions`);
    const minedRaw = c.raw("mined");
    let mined: AnchorCycle<D>["mined"] = null;
    if (minedRaw !== null) {
      const m = new Fields(minedRaw, `cycles[${ci}].mined`);
      mined = {version: m.int("version"), blockHash: m.bytes("blockHash", 32), height: m.int("height")};
      if (mined.version >= versions.length) throw bad(`cycles[${ci}].mined names a version it does not have`);
    }
    return {
      id: c.int("id"),
      input: {txid: input.bytes("txid", 32), vout: input.int("vout"), valueSats: input.sats("valueSats")},
      startFeeRate: c.num("startFeeRate"),
      firstHeight: c.int("firstHeight"),
      replaceable: c.bool("replaceable"),
      versions,
      mined,
    };
  });
  return {nextCycleId: top.int("nextCycleId"), lastCycleStartMs: top.int("lastCycleStartMs"), cycles};
}

/** Reads and writes `<dir>/state.json`. */
export class AnchorStateFile<D> {
  readonly dir: string;
  private readonly codec: DescriptionCodec<D>;

  constructor(dir: string, codec: DescriptionCodec<D>) {
    this.dir = dir;
    this.codec = codec;
  }

  get path(): string {
    return join(this.dir, STATE_FILE);
  }

  /** The saved state, or an empty one when there is none yet. Throws AnchorError BAD_STATE naming the file if it is damaged. */
  async load(): Promise<AnchorState<D>> {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(this.path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return emptyAnchorState();
      throw e;
    }
    try {
      return decodeState(bytes, this.codec);
    } catch (e) {
      if (e instanceof AnchorError && e.code === AnchorErrorCode.BAD_STATE) {
        throw new AnchorError(
          {code: AnchorErrorCode.BAD_STATE, path: this.path},
          `${this.path}: ${e.message}; refusing to start, since it may be the only record of a broadcast stamp transaction (move it aside only if you know no stamp transaction is unconfirmed)`,
        );
      }
      throw e;
    }
  }

  /** Durably replace the saved state (atomic: old or new after a crash, never a mix). */
  async save(state: AnchorState<D>): Promise<void> {
    // A new directory's entry must be durable too, or a power cut could take the file with it.
    if ((await mkdir(this.dir, {recursive: true})) !== undefined) await fsyncDir(dirname(this.dir));
    // 0600: it holds signed transactions and the coins they spend, nothing to share.
    await writeFileAtomic(this.dir, STATE_FILE, encodeState(state, this.codec), 0o600);
  }
}
