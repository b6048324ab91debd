import {suite} from "uvu";
import * as assert from "uvu/assert";
import {decodeDetached, encodeDetached, toHex} from "../../../protocol/ots/index.ts";
import {randomDetached} from "../../support/random-tree.ts";
import {referenceRoundTrip} from "../../support/reference.ts";
import {Rng} from "../../support/rng.ts";
import {withTimeout} from "../../support/timeout.ts";
import {allOtsVectors, readVector} from "../../support/vectors.ts";

// ---

const reference = suite("protocol/ots :: cross-check with python3-opentimestamps");

reference("should write what the reference writes for random trees :: 2000 files", withTimeout(120_000, async (signal) => {
  const rng = new Rng(0xc0ffee);
  const files = Array.from({length: 2000}, () => encodeDetached(randomDetached(rng)));
  const results = await referenceRoundTrip(files, signal);
  assert.is(results.length, files.length);
  results.forEach((r, i) => {
    if (!("ok" in r)) assert.unreachable(`the reference refused our file ${i}: ${r.error}`);
    else if (r.ok !== toHex(files[i] as Uint8Array)) assert.unreachable(`the reference re-serialized file ${i} differently`);
  });
}));

reference("should agree on every shared vector :: accept/refuse and bytes", withTimeout(60_000, async (signal) => {
  const names = allOtsVectors();
  const results = await referenceRoundTrip(names.map(readVector), signal);
  names.forEach((name, i) => {
    const r = results[i];
    let ours: string | null = null;
    try {
      ours = toHex(encodeDetached(decodeDetached(readVector(name))));
    } catch {
      ours = null;
    }
    if (r && "ok" in r) assert.is(ours, r.ok, name);
    else assert.is(ours, null, `${name}: the reference refuses it (${r?.error}), so must we`);
  });
}));

reference.run();
