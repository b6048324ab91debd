/**
 * The stamper's durable memory: every cycle not yet journaled as a STAMP,
 * with every version of its transaction that was (or may have been)
 * broadcast. Any of them can be the one a miner confirms, so each version is
 * written here, fsync'd, BEFORE it is sent: after a crash at any point the
 * node still recognises whichever version lands in a block, and never signs
 * a second spend of the same coin for other commitments.
 *
 *   <dataDir>/stamper/state.json   replaced atomically on every change
 *
 * JSON because it is small (a few cycles of a few versions), inspectable by
 * operators, and rewritten whole. It is checked field by field on load; a
 * damaged file stops the node with a message naming it rather than letting
 * it forget a broadcast.
 */
import {mkdir, readFile} from "node:fs/promises";
import {dirname, join} from "node:path";
import {CalendarError} from "../../protocol/errors.ts";
import {fromHex, toHex} from "../../protocol/ots/bytes.ts";
import type {SeqRange} from "../../protocol/journal/stamp.ts";
import {fsyncDir, writeFileAtomic} from "../calendar/fsutil.ts";

export const STAMPER_DIR = "stamper";
export const STATE_FILE = "state.json";
const FORMAT = "otsfed-stamper-state";
const FORMAT_VERSION = 1;

/** One signed transaction of a cycle. */
export type StampVersion = {
  txid: Uint8Array;
  /** Signed, with witness: what was (or may have been) broadcast. */
  tx: Uint8Array;
  root: Uint8Array;
  ranges: SeqRange[];
  leaves: number;
  feeRate: number;
  feeSats: bigint;
  vsize: number;
  /** Chain height when it was built (its nLockTime). */
  height: number;
  timeMs: number;
};

/** One coin being spent into a stamp, and every version of that spend. */
export type StampCycle = {
  id: number;
  input: {txid: Uint8Array; vout: number; valueSats: bigint};
  /** The first version's feerate: where the fee schedule starts. */
  startFeeRate: number;
  /** Chain height at the first broadcast: the fee schedule counts blocks from it. */
  firstHeight: number;
  /** Still takes replacements with new commitments (false once any version was mined). */
  replaceable: boolean;
  versions: StampVersion[];
  /** The version in the active chain, once one is. */
  mined: {version: number; blockHash: Uint8Array; height: number} | null;
};

export type StamperState = {nextCycleId: number; lastCycleStartMs: number; cycles: StampCycle[]};

export const StamperStateErrorCode = {BAD_STATE: "STAMPER_BAD_STATE"} as const;
export class StamperStateError extends CalendarError<{code: typeof StamperStateErrorCode.BAD_STATE}> {}

export function emptyStamperState(): StamperState {
  return {nextCycleId: 1, lastCycleStartMs: 0, cycles: []};
}

function encodeState(s: StamperState): Uint8Array {
  const json = {
    format: FORMAT,
    version: FORMAT_VERSION,
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
        ranges: v.ranges.map((r) => [r.from, r.to]),
        leaves: v.leaves,
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

function bad(message: string): StamperStateError {
  return new StamperStateError({code: StamperStateErrorCode.BAD_STATE}, message);
}

function decodeRanges(v: unknown, at: string): SeqRange[] {
  if (!Array.isArray(v) || v.length === 0) throw bad(`${at} is not a non-empty list of ranges`);
  let prev = -1;
  return v.map((r, i) => {
    if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) throw bad(`${at}[${i}] is not [from, to]`);
    const [from, to] = r as [number, number];
    if (from >= to || from <= prev) throw bad(`${at}[${i}] is empty or out of order`);
    prev = to;
    return {from, to};
  });
}

function decodeState(bytes: Uint8Array): StamperState {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", {fatal: true}).decode(bytes));
  } catch (e) {
    throw bad(`not JSON: ${(e as Error).message}`);
  }
  const top = new Fields(json, "state");
  if (top.raw("format") !== FORMAT) throw bad(`not an ${FORMAT} file`);
  if (top.raw("version") !== FORMAT_VERSION) throw bad(`format version ${String(top.raw("version"))}, this otsfed reads ${FORMAT_VERSION}`);
  const cycles = top.list("cycles").map((cv, ci): StampCycle => {
    const c = new Fields(cv, `cycles[${ci}]`);
    const input = new Fields(c.raw("input"), `cycles[${ci}].input`);
    const versions = c.list("versions").map((vv, vi): StampVersion => {
      const v = new Fields(vv, `cycles[${ci}].versions[${vi}]`);
      return {
        txid: v.bytes("txid", 32),
        tx: v.bytes("tx"),
        root: v.bytes("root", 32),
        ranges: decodeRanges(v.raw("ranges"), `cycles[${ci}].versions[${vi}].ranges`),
        leaves: v.int("leaves"),
        feeRate: v.num("feeRate"),
        feeSats: v.sats("feeSats"),
        vsize: v.int("vsize"),
        height: v.int("height"),
        timeMs: v.int("timeMs"),
      };
    });
    if (versions.length === 0) throw bad(`cycles[${ci}] has no versions`);
    const minedRaw = c.raw("mined");
    let mined: StampCycle["mined"] = null;
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

/** Reads and writes `<dataDir>/stamper/state.json`. */
export class StamperStateFile {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, STAMPER_DIR);
  }

  get path(): string {
    return join(this.dir, STATE_FILE);
  }

  /** The saved state, or an empty one when there is none yet. Throws StamperStateError naming the file if it is damaged. */
  async load(): Promise<StamperState> {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(this.path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return emptyStamperState();
      throw e;
    }
    try {
      return decodeState(bytes);
    } catch (e) {
      if (e instanceof StamperStateError) throw bad(`${this.path}: ${e.message}; refusing to start, since it may be the only record of a broadcast stamp transaction (move it aside only if you know no stamp transaction is unconfirmed)`);
      throw e;
    }
  }

  /** Durably replace the saved state (atomic: old or new after a crash, never a mix). */
  async save(state: StamperState): Promise<void> {
    // A new directory's entry must be durable too, or a power cut could take the file with it.
    if ((await mkdir(this.dir, {recursive: true})) !== undefined) await fsyncDir(dirname(this.dir));
    await writeFileAtomic(this.dir, STATE_FILE, encodeState(state));
  }
}
