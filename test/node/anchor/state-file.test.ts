/**
 * The engine's state file with descriptions it knows nothing about: any JSON
 * the caller's codec produces is kept verbatim, checked by that codec on
 * load, and a refusal stops the load like any other damage. (The calendar's
 * own descriptions, version-1 files and every kind of damage are in
 * test/node/stamper/state-file.test.ts.)
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {readFile, readdir, stat, writeFile} from "node:fs/promises";
import {join} from "node:path";
import {sha256} from "../../../protocol/ots/hashes.ts";
import {AnchorError, AnchorErrorCode} from "../../../node/anchor/errors.ts";
import {AnchorStateFile, emptyAnchorState, STATE_FILE, STATE_FORMAT, STATE_FORMAT_VERSION} from "../../../node/anchor/state-file.ts";
import type {AnchorState, DescriptionCodec, Json} from "../../../node/anchor/state-file.ts";
import {withTimeout} from "../../support/timeout.ts";
import {removeDir, tempDir} from "../calendar/support.ts";

const h = (s: string): Uint8Array => sha256(new TextEncoder().encode(s));

/** A federation-like description: which members' tips a root covers. */
type Tips = {members: string[]; note: Json};

const tipsCodec: DescriptionCodec<Tips> = {
  encode: (d) => ({members: d.members, note: d.note}),
  decode(json, at) {
    const o = json as {members?: unknown; note?: unknown} | null;
    if (typeof o !== "object" || o === null || !Array.isArray(o.members) || !o.members.every((m) => typeof m === "string")) return {ok: false, reason: `${at}.members is not a list of names`};
    return {ok: true, value: {members: o.members as string[], note: (o.note ?? null) as Json}};
  },
};

function sample(): AnchorState<Tips> {
  const version = (i: number, d: Tips): AnchorState<Tips>["cycles"][number]["versions"][number] => ({
    txid: h(`txid ${i}`),
    tx: Uint8Array.from({length: 150 + i}, (_, k) => (k + i) & 0xff),
    root: h(`root ${i}`),
    description: d,
    feeRate: 1.5 + i,
    feeSats: 300n + BigInt(i),
    vsize: 150,
    height: 100 + i,
    timeMs: 1_700_000_000_000 + i,
  });
  return {
    nextCycleId: 3,
    lastCycleStartMs: 1_700_000_000_000,
    cycles: [
      {id: 1, input: {txid: h("coin 1"), vout: 0, valueSats: 10_000n}, startFeeRate: 1.5, firstHeight: 99, replaceable: false, versions: [version(0, {members: ["a"], note: null})], mined: {version: 0, blockHash: h("block"), height: 101}},
      {id: 2, input: {txid: h("coin 2"), vout: 2, valueSats: 20_000n}, startFeeRate: 2, firstHeight: 100, replaceable: true, versions: [version(1, {members: ["a", "b"], note: {deadline: 6, tags: ["x", 1, true]}}), version(2, {members: [], note: "ünïcode"})], mined: null},
    ],
  };
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await tempDir("otsfed-anchor-state-");
  try {
    return await fn(dir);
  } finally {
    await removeDir(dir);
  }
}

// ---
const file = suite("node/anchor/state-file AnchorStateFile");

file("should keep any description verbatim and give back exactly what was saved :: opaque JSON", withTimeout(10_000, () => withDir(async (dir) => {
  const f = new AnchorStateFile(join(dir, "anchor"), tipsCodec);
  assert.is(f.path, join(dir, "anchor", STATE_FILE));
  await f.save(sample());
  assert.equal(await f.load(), sample());
  const json = JSON.parse(await readFile(f.path, "utf8")) as {format: string; version: number; cycles: Array<{versions: Array<{description: unknown}>}>};
  assert.is(json.format, STATE_FORMAT);
  assert.is(json.version, STATE_FORMAT_VERSION);
  assert.is(json.version, 2);
  assert.equal(json.cycles[1]?.versions[0]?.description, {members: ["a", "b"], note: {deadline: 6, tags: ["x", 1, true]}});
  const before = await readFile(f.path);
  await f.save(await f.load());
  assert.equal(new Uint8Array(await readFile(f.path)), new Uint8Array(before), "one encoding per state");
  assert.is((await stat(f.path)).mode & 0o777, 0o600, "signed transactions are the operator's alone");
})));

file("should give an empty state and create nothing when there is no file :: missing", withTimeout(10_000, () => withDir(async (dir) => {
  const f = new AnchorStateFile(join(dir, "anchor"), tipsCodec);
  assert.equal(await f.load(), emptyAnchorState());
  assert.equal(await readdir(dir), []);
})));

file("should refuse a description its codec refuses, naming the file and the codec's reason :: codec refusal", withTimeout(10_000, () => withDir(async (dir) => {
  const f = new AnchorStateFile(dir, tipsCodec);
  await f.save(sample());
  const json = JSON.parse(await readFile(f.path, "utf8")) as {cycles: Array<{versions: Array<{description: unknown}>}>};
  (json.cycles[1]?.versions[1] as {description: unknown}).description = {members: [7]};
  await writeFile(f.path, JSON.stringify(json));
  try {
    await f.load();
    assert.unreachable("loaded");
  } catch (e) {
    if (!(e instanceof AnchorError)) throw e;
    assert.is(e.code, AnchorErrorCode.BAD_STATE);
    assert.equal(e.type, {code: AnchorErrorCode.BAD_STATE, path: f.path});
    assert.ok(e.message.startsWith(`${f.path}: cycles[1].versions[1].description.members is not a list of names`), e.message);
    assert.match(e.message, /refusing to start/);
  }
})));

file("should read a version-1 file's ranges and leaves as the description :: legacy fields", withTimeout(10_000, () => withDir(async (dir) => {
  const seen: Array<{json: unknown; at: string}> = [];
  const recording: DescriptionCodec<Json> = {encode: (d) => d, decode: (json, at) => (seen.push({json, at}), {ok: true, value: json as Json})};
  const f = new AnchorStateFile(dir, recording);
  const v1 = {
    format: STATE_FORMAT,
    version: 1,
    nextCycleId: 2,
    lastCycleStartMs: 5,
    cycles: [{id: 1, input: {txid: "11".repeat(32), vout: 0, valueSats: "1000"}, startFeeRate: 1, firstHeight: 10, replaceable: true, mined: null, versions: [{txid: "22".repeat(32), tx: "0200", root: "33".repeat(32), ranges: [[0, 4]], leaves: 4, feeRate: 1, feeSats: "150", vsize: 150, height: 10, timeMs: 5}]}],
  };
  await writeFile(f.path, JSON.stringify(v1));
  const state = await f.load();
  assert.equal(seen, [{json: {ranges: [[0, 4]], leaves: 4}, at: "cycles[0].versions[0]"}]);
  assert.equal(state.cycles[0]?.versions[0]?.description, {ranges: [[0, 4]], leaves: 4});
  await f.save(state);
  const saved = JSON.parse(await readFile(f.path, "utf8")) as {version: number; cycles: Array<{versions: Array<Record<string, unknown>>}>};
  assert.is(saved.version, 2, "the next save writes version 2");
  assert.equal(saved.cycles[0]?.versions[0]?.description, {ranges: [[0, 4]], leaves: 4});
  assert.is(saved.cycles[0]?.versions[0]?.ranges, undefined);
})));

file("should refuse a format version it does not know :: version 3", withTimeout(10_000, () => withDir(async (dir) => {
  const f = new AnchorStateFile(dir, tipsCodec);
  await writeFile(f.path, JSON.stringify({format: STATE_FORMAT, version: 3, nextCycleId: 1, lastCycleStartMs: 0, cycles: []}));
  try {
    await f.load();
    assert.unreachable("loaded");
  } catch (e) {
    if (!(e instanceof AnchorError)) throw e;
    assert.match(e.message, /format version 3, this otsfed reads 1 and 2/);
  }
})));

file.run();
