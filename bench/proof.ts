/**
 * `npm run bench -- proof`: how fast protocol/ots parses and writes proofs,
 * beside the npm `opentimestamps` library (the JS reference client) doing the
 * same work in the same process, and how fast the merkle tree builds.
 */
import {createRequire} from "node:module";
import {decodeDetached, encodeDetached, MerkleTree} from "../protocol/ots/index.ts";
import {readVector, allOtsVectors} from "../test/support/vectors.ts";
import type {Figures} from "./run.ts";

type JsOts = {DetachedTimestampFile: {deserialize(bytes: number[] | Uint8Array): {serializeToBytes(): Uint8Array}}};

function rate(label: string, seconds: number, fn: () => number): number {
  // Warm up, then run for `seconds` of wall time.
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) fn();
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) n += fn();
  const perSecond = n / ((performance.now() - start) / 1000);
  console.log(`${label.padEnd(44)} ${Math.round(perSecond).toLocaleString("en-US")} /s`);
  return perSecond;
}

export async function main(args: string[]): Promise<Figures> {
  const seconds = Number(args[0] ?? 3);
  const files = allOtsVectors()
    .filter((v) => !v.includes("/invalid/") && !v.includes("different-blockchains")) // the JS lib has no keccak256
    .map(readVector);
  const bytes = files.reduce((a, f) => a + f.length, 0);
  console.log(`${files.length} proof files, ${bytes} bytes; ${seconds} s per figure`);

  const ours = rate("otsfed parse+write (files)", seconds, () => {
    for (const f of files) encodeDetached(decodeDetached(f));
    return files.length;
  });
  const js = (createRequire(import.meta.url)("opentimestamps") as JsOts).DetachedTimestampFile;
  const theirs = rate("npm opentimestamps parse+write (files)", seconds, () => {
    for (const f of files) js.deserialize(Array.from(f)).serializeToBytes();
    return files.length;
  });
  const leaves = Array.from({length: 100_000}, (_, i) => {
    const b = new Uint8Array(32);
    new DataView(b.buffer).setUint32(0, i);
    return b;
  });
  const treeStart = performance.now();
  const tree = new MerkleTree(leaves);
  let pathOps = 0;
  for (let i = 0; i < leaves.length; i++) pathOps += tree.path(i).length;
  const treeSeconds = (performance.now() - treeStart) / 1000;
  const leavesPerSecond = leaves.length / treeSeconds;
  console.log(`${"merkle tree + every path (100,000 leaves)".padEnd(44)} ${Math.round(leavesPerSecond).toLocaleString("en-US")} leaves/s (${pathOps} ops)`);
  const ratio = ours / theirs;
  console.log(`ratio otsfed/npm-opentimestamps: ${ratio.toFixed(2)}`);
  return {
    files_per_s: Math.round(ours),
    npm_opentimestamps_files_per_s: Math.round(theirs),
    ratio: Number(ratio.toFixed(2)),
    merkle_leaves_per_s: Math.round(leavesPerSecond),
  };
}
