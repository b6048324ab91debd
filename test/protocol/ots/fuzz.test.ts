import {suite} from "uvu";
import * as assert from "uvu/assert";
import {
  ByteReader, decodeAttestation, decodeDetached, decodeTimestamp, encodeDetached, encodeTimestamp, HEADER_MAGIC, OtsError, parseTransaction,
} from "../../../protocol/ots/index.ts";
import {randomDetached} from "../../support/random-tree.ts";
import {Rng} from "../../support/rng.ts";
import {allOtsVectors, readVector} from "../../support/vectors.ts";

/**
 * Decoder robustness: seeded random and mutated inputs must either decode
 * (and then re-encode) or fail with our typed OtsError, never anything else.
 */
type Outcome = "ok" | "typed";

function tryDecode(fn: () => void): Outcome {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (e instanceof OtsError) return "typed";
    throw e;
  }
}

function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  const b = Array.from(input);
  const n = 1 + rng.int(4);
  for (let k = 0; k < n; k++) {
    const at = rng.int(b.length + 1);
    switch (rng.int(7)) {
      case 0:
        if (b.length) b[at % b.length] = (b[at % b.length] as number) ^ (1 << rng.int(8));
        break;
      case 1:
        if (b.length) b[at % b.length] = rng.int(256);
        break;
      case 2:
        b.splice(at, 0, ...rng.bytes(1 + rng.int(8)));
        break;
      case 3:
        b.splice(at, 1 + rng.int(8));
        break;
      case 4:
        b.length = at; // truncate
        break;
      case 5:
        // Interesting bytes: fork marker, attestation marker, varint continuation, op tags.
        b.splice(at, 0, rng.pick([0xff, 0x00, 0x80, 0xf0, 0xf1, 0xf2, 0xf3, 0x08, 0x67, 0x02, 0x03]));
        break;
      default: {
        // Duplicate a slice, which makes forks, long chains and repeated ops.
        const from = rng.int(b.length + 1);
        b.splice(at, 0, ...b.slice(from, from + rng.int(64)));
      }
    }
  }
  return Uint8Array.from(b);
}

const seeds: Uint8Array[] = [];
{
  const rng = new Rng(99);
  for (const v of allOtsVectors()) seeds.push(readVector(v));
  for (let i = 0; i < 200; i++) seeds.push(encodeDetached(randomDetached(rng)));
}

// ---

const fuzz = suite("protocol/ots decoders :: fuzz");

fuzz("should fail only with typed errors on mutated files :: 60000 inputs", () => {
  const rng = new Rng(0xdecaf);
  const counts = {ok: 0, typed: 0};
  for (let i = 0; i < 60_000; i++) {
    const input = mutate(rng, rng.pick(seeds));
    const outcome = tryDecode(() => {
      const f = decodeDetached(input);
      encodeDetached(f);
    });
    counts[outcome]++;
  }
  // Both paths must be exercised, or the mutations are not reaching the decoder.
  assert.ok(counts.ok > 1000 && counts.typed > 1000, JSON.stringify(counts));
});

fuzz("should fail only with typed errors on random bytes :: 40000 inputs", () => {
  const rng = new Rng(0xbeef);
  let typed = 0;
  for (let i = 0; i < 40_000; i++) {
    const body = rng.bytes(rng.int(200));
    const withMagic = new Uint8Array(HEADER_MAGIC.length + 2 + body.length);
    withMagic.set(HEADER_MAGIC);
    withMagic.set([1, rng.pick([0x08, 0x02, 0x03, 0x67])], HEADER_MAGIC.length);
    withMagic.set(body, HEADER_MAGIC.length + 2);
    if (tryDecode(() => decodeDetached(i % 2 ? withMagic : body)) === "typed") typed++;
    if (tryDecode(() => encodeTimestamp(decodeTimestamp(body, rng.bytes(rng.int(40))))) === "typed") typed++;
    tryDecode(() => decodeAttestation(new ByteReader(body)));
    parseTransaction(body);
  }
  assert.ok(typed > 40_000, `typed errors: ${typed}`);
});

fuzz("should refuse huge length claims before allocating :: length bombs", () => {
  // varbytes claiming 2^49 bytes, and a varuint of 10,000 continuation bytes.
  const claim = Uint8Array.of(0xf0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01);
  assert.is(tryDecode(() => decodeTimestamp(claim, Uint8Array.of(1))), "typed");
  const longVarint = new Uint8Array(10_002).fill(0x80);
  longVarint[0] = 0xf0;
  longVarint[10_001] = 0x00;
  assert.is(tryDecode(() => decodeTimestamp(longVarint, Uint8Array.of(1))), "typed");
  const wideFork = new Uint8Array(200_000).fill(0xff);
  assert.is(tryDecode(() => decodeTimestamp(wideFork, Uint8Array.of(1))), "typed");
});

fuzz.run();
