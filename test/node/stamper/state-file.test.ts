/**
 * The stamper's state file: the engine's state file (format version 2) with
 * the calendar's descriptions (journal ranges, leaf count), and the version-1
 * files earlier otsfed wrote (fixtures/state-v1.json is sampleState() as the
 * version-1 writer saved it), read as they were and rewritten as version 2.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {mkdir, open, readdir, readFile, stat, writeFile} from "node:fs/promises";
import {join} from "node:path";
import {sha256} from "../../../protocol/ots/hashes.ts";
import {AnchorError, AnchorErrorCode} from "../../../node/anchor/errors.ts";
import {emptyAnchorState, STATE_FILE} from "../../../node/anchor/state-file.ts";
import type {AnchorCycle, AnchorState, AnchorVersion} from "../../../node/anchor/state-file.ts";
import {STAMPER_DIR, stamperStateFile} from "../../../node/stamper/state-file.ts";
import type {StampDescription} from "../../../node/stamper/state-file.ts";
import {withTimeout} from "../../support/timeout.ts";
import {removeDir, tempDir} from "../calendar/support.ts";

const h = (s: string): Uint8Array => sha256(new TextEncoder().encode(s));

type StampVersion = AnchorVersion<StampDescription>;
type StampCycle = AnchorCycle<StampDescription>;
type StamperState = AnchorState<StampDescription>;

/** sampleState() as otsfed's version-1 writer saved it. */
const V1_FIXTURE = new URL("./fixtures/state-v1.json", import.meta.url);

function version(tag: string, ranges: Array<[number, number]>, i: number): StampVersion {
  return {
    txid: h(`${tag} txid ${i}`),
    tx: Uint8Array.from({length: 200 + i}, (_, k) => (k * 7 + i) & 0xff),
    root: h(`${tag} root ${i}`),
    description: {ranges: ranges.map(([from, to]) => ({from, to})), leaves: ranges.reduce((n, [a, b]) => n + b - a, 0)},
    feeRate: 2.5 + i * 1.25,
    feeSats: 9_007_199_254_740_993n + BigInt(i), // past 2^53: must survive as an exact bigint
    vsize: 153,
    height: 840_000 + i,
    timeMs: 1_700_000_000_000 + i * 600_000,
  };
}

/** Three cycles: one mined (at its second version), one still replaceable with three versions, one fresh. */
function sampleState(): StamperState {
  const mined: StampCycle = {
    id: 7,
    input: {txid: h("coin 7"), vout: 1, valueSats: 2_100_000_000_000_000n},
    startFeeRate: 1,
    firstHeight: 839_990,
    replaceable: false,
    versions: [version("c7", [[0, 10]], 0), version("c7", [[0, 10], [12, 20]], 1)],
    mined: {version: 1, blockHash: h("block 839991"), height: 839_991},
  };
  const active: StampCycle = {
    id: 8,
    input: {txid: h("coin 8"), vout: 0, valueSats: 50_000n},
    startFeeRate: 3.75,
    firstHeight: 840_000,
    replaceable: true,
    versions: [version("c8", [[21, 30]], 0), version("c8", [[21, 35]], 1), version("c8", [[21, 35], [40, 1_000_000]], 2)],
    mined: null,
  };
  const fresh: StampCycle = {
    id: 9,
    input: {txid: h("coin 9"), vout: 4_294_967_295, valueSats: 0n},
    startFeeRate: 0.1,
    firstHeight: 0,
    replaceable: true,
    versions: [version("c9", [[2 ** 53 - 10, 2 ** 53 - 1]], 0)],
    mined: null,
  };
  return {nextCycleId: 10, lastCycleStartMs: 1_700_000_123_456, cycles: [mined, active, fresh]};
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await tempDir("otsfed-state-");
  try {
    return await fn(dir);
  } finally {
    await removeDir(dir);
  }
}

// ---
const roundTrip = suite("node/stamper/state-file stamperStateFile round trip");

roundTrip("should give back exactly what was saved :: several cycles and versions", withTimeout(10_000, () => withDir(async (dir) => {
  const file = stamperStateFile(dir);
  assert.is(file.path, join(dir, STAMPER_DIR, STATE_FILE));
  const state = sampleState();
  await file.save(state);
  const loaded = await file.load();
  assert.equal(loaded, state);
  assert.is(typeof loaded.cycles[0]?.input.valueSats, "bigint");
  assert.is(loaded.cycles[1]?.versions[2]?.feeSats, 9_007_199_254_740_995n, "amounts past 2^53 are exact");
  assert.equal(loaded.cycles[1]?.versions[2]?.description.ranges, [{from: 21, to: 35}, {from: 40, to: 1_000_000}]);
  assert.equal(loaded.cycles[0]?.mined, {version: 1, blockHash: h("block 839991"), height: 839_991});
  assert.is(loaded.cycles[1]?.mined, null);
  // Saving what was loaded writes the same bytes: one encoding per state.
  const before = await readFile(file.path);
  await file.save(loaded);
  assert.equal(new Uint8Array(await readFile(file.path)), new Uint8Array(before));
})));

roundTrip("should give an empty state when there is no file :: missing", withTimeout(10_000, () => withDir(async (dir) => {
  const file = stamperStateFile(dir);
  assert.equal(await file.load(), emptyAnchorState());
  assert.equal(emptyAnchorState(), {nextCycleId: 1, lastCycleStartMs: 0, cycles: []});
  // Nothing was created by loading.
  assert.equal(await readdir(dir), []);
  await file.save(emptyAnchorState());
  assert.equal(await file.load(), emptyAnchorState());
})));

roundTrip("should write inspectable JSON with the amounts as decimal strings :: format", withTimeout(10_000, () => withDir(async (dir) => {
  const file = stamperStateFile(dir);
  await file.save(sampleState());
  const json = JSON.parse(await readFile(file.path, "utf8")) as Record<string, unknown> & {cycles: Array<Record<string, unknown> & {versions: Array<Record<string, unknown>>}>};
  assert.is(json.format, "otsfed-stamper-state");
  assert.is(json.version, 2);
  assert.is(json.cycles[1]?.versions[2]?.feeSats, "9007199254740995");
  assert.equal(json.cycles[1]?.versions[2]?.description, {ranges: [[21, 35], [40, 1_000_000]], leaves: 999_974});
  assert.is(json.cycles[1]?.versions[2]?.ranges, undefined, "the calendar's fields live in the description");
  assert.is(json.cycles[0]?.versions[0]?.txid, Buffer.from(h("c7 txid 0")).toString("hex"));
})));

// ---
const atomic = suite("node/stamper/state-file stamperStateFile atomic write");

atomic("should ignore a leftover state.json.tmp and replace the file, not rewrite it in place :: crash leftovers", withTimeout(10_000, () => withDir(async (dir) => {
  const file = stamperStateFile(dir);
  const first = sampleState();
  await file.save(first);
  // A crash between writing the temporary file and renaming it leaves this behind.
  const tmp = join(dir, STAMPER_DIR, `${STATE_FILE}.tmp`);
  await writeFile(tmp, "{\"format\": \"half writ");
  assert.equal(await file.load(), first, "the temporary file is never read");

  const oldInode = (await stat(file.path)).ino;
  // A reader holding the old file keeps seeing the old bytes: the new state is a new file renamed over it.
  const reader = await open(file.path, "r");
  try {
    const second: StamperState = {...first, nextCycleId: 11, cycles: first.cycles.slice(1)};
    await file.save(second);
    assert.equal(await file.load(), second);
    assert.is.not((await stat(file.path)).ino, oldInode, "replaced by rename");
    const old = JSON.parse((await reader.readFile()).toString("utf8")) as {nextCycleId: number};
    assert.is(old.nextCycleId, 10, "the old file was not written into");
  } finally {
    await reader.close();
  }
  assert.equal((await readdir(join(dir, STAMPER_DIR))).sort(), [STATE_FILE], "no temporary file left after a save");
})));

atomic("should create the stamper directory on first save :: mkdir", withTimeout(10_000, () => withDir(async (dir) => {
  const nested = join(dir, "data");
  await mkdir(nested);
  const file = stamperStateFile(nested);
  await file.save(sampleState());
  assert.equal(await readdir(join(nested, STAMPER_DIR)), [STATE_FILE]);
})));

// ---
const damage = suite("node/stamper/state-file stamperStateFile damage");

const DELETE = Symbol("delete");

/** Replace (or delete) the value at `at` inside parsed JSON. */
function editJson(json: unknown, at: ReadonlyArray<string | number>, to: (old: unknown) => unknown): void {
  let node = json as Record<string | number, unknown>;
  for (const k of at.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = at[at.length - 1] as string | number;
  const v = to(node[last]);
  if (v === DELETE) delete node[last];
  else node[last] = v;
}

/**
 * Each case damages a good saved file; the error must name the file and
 * (where there is one) the field. `at` and `field` name version 1's layout;
 * `v2: false` cases make sense in one layout only.
 */
const cases: Array<{name: string; raw?: string | Uint8Array; at?: Array<string | number>; to?: (old: unknown) => unknown; field: RegExp; v1?: boolean; v2?: boolean}> = [
  {name: "not JSON", raw: "{\"format\": ", field: /not JSON/},
  {name: "not UTF-8", raw: Uint8Array.of(0x7b, 0xff, 0x7d), field: /not JSON/},
  {name: "empty file", raw: "", field: /not JSON/},
  {name: "a list at the top", raw: "[]", field: /state is not an object/},
  {name: "null at the top", raw: "null", field: /state is not an object/},
  {name: "wrong format", at: ["format"], to: () => "otsd-state", field: /not an otsfed-stamper-state file/},
  {name: "no format", at: ["format"], to: () => DELETE, field: /not an otsfed-stamper-state file/},
  {name: "newer version", at: ["version"], to: () => 3, field: /format version 3, this otsfed reads 1 and 2/},
  {name: "version as a string", at: ["version"], to: () => "1", field: /format version 1/},
  {name: "nextCycleId negative", at: ["nextCycleId"], to: () => -1, field: /state\.nextCycleId is not a non-negative integer/},
  {name: "lastCycleStartMs fractional", at: ["lastCycleStartMs"], to: () => 1.5, field: /state\.lastCycleStartMs is not a non-negative integer/},
  {name: "cycles not a list", at: ["cycles"], to: () => ({}), field: /state\.cycles is not a list/},
  {name: "cycle not an object", at: ["cycles", 1], to: () => 5, field: /cycles\[1\] is not an object/},
  {name: "cycle id negative", at: ["cycles", 0, "id"], to: () => -3, field: /cycles\[0\]\.id is not a non-negative integer/},
  {name: "input txid bad hex", at: ["cycles", 0, "input", "txid"], to: (old) => "zz" + String(old).slice(2), field: /cycles\[0\]\.input\.txid is not 32 bytes of hex/},
  {name: "input txid short", at: ["cycles", 0, "input", "txid"], to: (old) => String(old).slice(2), field: /cycles\[0\]\.input\.txid is not 32 bytes of hex/},
  {name: "input txid odd length", at: ["cycles", 0, "input", "txid"], to: (old) => String(old).slice(1), field: /cycles\[0\]\.input\.txid/},
  {name: "input vout negative", at: ["cycles", 1, "input", "vout"], to: () => -1, field: /cycles\[1\]\.input\.vout is not a non-negative integer/},
  {name: "input missing", at: ["cycles", 1, "input"], to: () => DELETE, field: /cycles\[1\]\.input is not an object/},
  {name: "input value negative", at: ["cycles", 0, "input", "valueSats"], to: () => "-5", field: /cycles\[0\]\.input\.valueSats is not an amount in satoshis/},
  {name: "input value a number", at: ["cycles", 0, "input", "valueSats"], to: () => 5000, field: /cycles\[0\]\.input\.valueSats is not an amount/},
  {name: "input value fractional", at: ["cycles", 0, "input", "valueSats"], to: () => "1.5", field: /cycles\[0\]\.input\.valueSats/},
  {name: "input value too long", at: ["cycles", 0, "input", "valueSats"], to: () => "12345678901234567", field: /cycles\[0\]\.input\.valueSats/},
  {name: "startFeeRate negative", at: ["cycles", 1, "startFeeRate"], to: () => -0.5, field: /cycles\[1\]\.startFeeRate is not a number/},
  {name: "startFeeRate a string", at: ["cycles", 1, "startFeeRate"], to: () => "2", field: /cycles\[1\]\.startFeeRate is not a number/},
  {name: "firstHeight negative", at: ["cycles", 2, "firstHeight"], to: () => -1, field: /cycles\[2\]\.firstHeight is not a non-negative integer/},
  {name: "replaceable not boolean", at: ["cycles", 1, "replaceable"], to: () => "yes", field: /cycles\[1\]\.replaceable is not true or false/},
  {name: "versions not a list", at: ["cycles", 1, "versions"], to: () => null, field: /cycles\[1\]\.versions is not a list/},
  {name: "no versions", at: ["cycles", 1, "versions"], to: () => [], field: /cycles\[1\] has no versions/},
  {name: "version txid bad hex", at: ["cycles", 1, "versions", 2, "txid"], to: () => "g".repeat(64), field: /cycles\[1\]\.versions\[2\]\.txid is not 32 bytes of hex/},
  {name: "version tx bad hex", at: ["cycles", 1, "versions", 0, "tx"], to: () => "0x00", field: /cycles\[1\]\.versions\[0\]\.tx is not some bytes of hex/},
  {name: "version tx a number", at: ["cycles", 1, "versions", 0, "tx"], to: () => 12, field: /cycles\[1\]\.versions\[0\]\.tx/},
  {name: "version root long", at: ["cycles", 0, "versions", 1, "root"], to: (old) => `${String(old)}00`, field: /cycles\[0\]\.versions\[1\]\.root is not 32 bytes of hex/},
  {name: "version leaves negative", at: ["cycles", 0, "versions", 0, "leaves"], to: () => -1, field: /cycles\[0\]\.versions\[0\]\.leaves is not a non-negative integer/},
  {name: "version vsize fractional", at: ["cycles", 0, "versions", 0, "vsize"], to: () => 150.5, field: /cycles\[0\]\.versions\[0\]\.vsize is not a non-negative integer/},
  {name: "version height negative", at: ["cycles", 0, "versions", 0, "height"], to: () => -840_000, field: /cycles\[0\]\.versions\[0\]\.height/},
  {name: "version timeMs missing", at: ["cycles", 0, "versions", 0, "timeMs"], to: () => DELETE, field: /cycles\[0\]\.versions\[0\]\.timeMs/},
  {name: "version feeRate negative", at: ["cycles", 0, "versions", 0, "feeRate"], to: () => -1, field: /cycles\[0\]\.versions\[0\]\.feeRate is not a number/},
  {name: "version feeSats negative", at: ["cycles", 0, "versions", 1, "feeSats"], to: () => "-100", field: /cycles\[0\]\.versions\[1\]\.feeSats is not an amount in satoshis/},
  {name: "version feeSats hex", at: ["cycles", 0, "versions", 1, "feeSats"], to: () => "0x10", field: /cycles\[0\]\.versions\[1\]\.feeSats/},
  {name: "ranges empty", at: ["cycles", 1, "versions", 1, "ranges"], to: () => [], field: /cycles\[1\]\.versions\[1\]\.ranges is not a non-empty list of ranges/},
  {name: "ranges not a list", at: ["cycles", 1, "versions", 1, "ranges"], to: () => "0-10", field: /cycles\[1\]\.versions\[1\]\.ranges is not a non-empty list/},
  {name: "range not a pair", at: ["cycles", 1, "versions", 1, "ranges"], to: () => [[21]], field: /cycles\[1\]\.versions\[1\]\.ranges\[0\] is not \[from, to\]/},
  {name: "range negative", at: ["cycles", 1, "versions", 1, "ranges"], to: () => [[-1, 5]], field: /cycles\[1\]\.versions\[1\]\.ranges\[0\] is not \[from, to\]/},
  {name: "range fractional", at: ["cycles", 1, "versions", 1, "ranges"], to: () => [[1, 5.5]], field: /cycles\[1\]\.versions\[1\]\.ranges\[0\] is not \[from, to\]/},
  {name: "range empty", at: ["cycles", 1, "versions", 2, "ranges"], to: () => [[21, 35], [40, 40]], field: /cycles\[1\]\.versions\[2\]\.ranges\[1\] is empty or out of order/},
  {name: "range reversed", at: ["cycles", 1, "versions", 2, "ranges"], to: () => [[35, 21]], field: /cycles\[1\]\.versions\[2\]\.ranges\[0\] is empty or out of order/},
  {name: "ranges unsorted", at: ["cycles", 1, "versions", 2, "ranges"], to: () => [[40, 50], [21, 35]], field: /cycles\[1\]\.versions\[2\]\.ranges\[1\] is empty or out of order/},
  {name: "ranges overlapping", at: ["cycles", 1, "versions", 2, "ranges"], to: () => [[21, 35], [30, 50]], field: /cycles\[1\]\.versions\[2\]\.ranges\[1\] is empty or out of order/},
  {name: "mined names a missing version", at: ["cycles", 0, "mined", "version"], to: () => 2, field: /cycles\[0\]\.mined names a version it does not have/},
  {name: "mined version negative", at: ["cycles", 0, "mined", "version"], to: () => -1, field: /cycles\[0\]\.mined\.version is not a non-negative integer/},
  {name: "mined block hash short", at: ["cycles", 0, "mined", "blockHash"], to: () => "00", field: /cycles\[0\]\.mined\.blockHash is not 32 bytes of hex/},
  {name: "mined height negative", at: ["cycles", 0, "mined", "height"], to: () => -1, field: /cycles\[0\]\.mined\.height is not a non-negative integer/},
  {name: "mined missing (not null)", at: ["cycles", 1, "mined"], to: () => DELETE, field: /cycles\[1\]\.mined is not an object/},
  {name: "mined a string", at: ["cycles", 1, "mined"], to: () => "no", field: /cycles\[1\]\.mined is not an object/},
  {name: "description missing", at: ["cycles", 0, "versions", 1, "description"], to: () => DELETE, field: /cycles\[0\]\.versions\[1\]\.description is not an object/, v1: false},
  {name: "description a list", at: ["cycles", 0, "versions", 1, "description"], to: () => [[0, 10]], field: /cycles\[0\]\.versions\[1\]\.description is not an object/, v1: false},
];

/** Where version 2 keeps what version 1 had on the version itself. */
function inV2(at: Array<string | number>): Array<string | number> {
  const i = at.findIndex((k) => k === "ranges" || k === "leaves");
  return i > 0 && at[i - 2] === "versions" ? [...at.slice(0, i), "description", ...at.slice(i)] : at;
}

function fieldInV2(field: RegExp): RegExp {
  return new RegExp(field.source.replace(/(versions\\\[\d\\\])\\\.(ranges|leaves)/, "$1\\.description\\.$2"));
}

async function expectRefusal(dir: string, name: string, field: RegExp): Promise<void> {
  const file = stamperStateFile(dir);
  try {
    await file.load();
    assert.unreachable(`${name}: loaded`);
  } catch (e) {
    if (!(e instanceof AnchorError)) throw e;
    assert.is(e.code, AnchorErrorCode.BAD_STATE);
    assert.is(e.name, "AnchorError");
    assert.equal(e.type, {code: AnchorErrorCode.BAD_STATE, path: file.path});
    assert.ok(e.message.startsWith(`${file.path}: `), `names the file: ${e.message}`);
    assert.match(e.message, field, `names the field: ${e.message}`);
    assert.match(e.message, /refusing to start/);
  }
}

for (const c of cases) {
  for (const layout of ["v1", "v2"] as const) {
    if (c[layout] === false) continue;
    damage(`should refuse the file naming it and the field :: ${c.name} (${layout})`, withTimeout(10_000, () => withDir(async (dir) => {
      const file = stamperStateFile(dir);
      if (layout === "v2") await file.save(sampleState());
      else {
        await mkdir(join(dir, STAMPER_DIR), {recursive: true});
        await writeFile(file.path, await readFile(V1_FIXTURE));
      }
      if (c.raw !== undefined) await writeFile(file.path, c.raw);
      else {
        const j: unknown = JSON.parse(await readFile(file.path, "utf8"));
        editJson(j, layout === "v2" ? inV2(c.at ?? []) : (c.at ?? []), c.to ?? ((old) => old));
        await writeFile(file.path, JSON.stringify(j));
      }
      await expectRefusal(dir, c.name, layout === "v2" ? fieldInV2(c.field) : c.field);
    })));
  }
}

damage("should accept every field at its edge :: limits", withTimeout(10_000, () => withDir(async (dir) => {
  const file = stamperStateFile(dir);
  const s = sampleState();
  const v = s.cycles[1]?.versions[0] as StampVersion;
  v.feeSats = 9_999_999_999_999_999n; // 16 digits, the most the reader takes
  v.feeRate = 0;
  v.description = {leaves: 0, ranges: [{from: 0, to: 1}, {from: 2, to: 3}]};
  await file.save(s);
  assert.equal(await file.load(), s);
})));

// ---
const legacy = suite("node/stamper/state-file stamperStateFile version 1");

legacy("should read a version-1 file exactly as the version-1 reader did, then write version 2 :: upgrade", withTimeout(10_000, () => withDir(async (dir) => {
  const file = stamperStateFile(dir);
  await mkdir(join(dir, STAMPER_DIR));
  const v1 = await readFile(V1_FIXTURE);
  assert.is((JSON.parse(v1.toString("utf8")) as {version: number}).version, 1, "the fixture is version 1");
  await writeFile(file.path, v1);
  const loaded = await file.load();
  assert.equal(loaded, sampleState(), "every cycle, version, range and amount as saved");
  assert.equal(new Uint8Array(await readFile(file.path)), new Uint8Array(v1), "loading changes nothing on disk");
  await file.save(loaded);
  const json = JSON.parse(await readFile(file.path, "utf8")) as {version: number; cycles: Array<{versions: Array<Record<string, unknown>>}>};
  assert.is(json.version, 2);
  assert.equal(json.cycles[0]?.versions[1]?.description, {ranges: [[0, 10], [12, 20]], leaves: 18});
  assert.equal(await file.load(), sampleState(), "and reads back the same");
})));

roundTrip.run();
legacy.run();
atomic.run();
damage.run();
