/** Seeded random proof trees covering every op and attestation kind, within the reference's limits. */
import {detachedFile, Timestamp} from "../../protocol/ots/index.ts";
import type {Attestation, DetachedTimestampFile, Op} from "../../protocol/ots/index.ts";
import type {Rng} from "./rng.ts";

const URI_CHARS = "ABCXYZabcxyz0189._/:-";

function randomAttestation(rng: Rng): Attestation {
  switch (rng.int(5)) {
    case 0:
      return {kind: "bitcoin", height: rng.int(3) === 0 ? rng.int(2 ** 31) * 2 ** 20 + rng.int(2 ** 20) : rng.int(1_000_000)};
    case 1:
      return {kind: "litecoin", height: rng.int(5_000_000)};
    case 2:
      return {kind: "ethereum", height: rng.int(20_000_000)};
    case 3: {
      const len = rng.int(4) === 0 ? rng.int(1001) : rng.int(40);
      let uri = "";
      for (let i = 0; i < len; i++) uri += URI_CHARS[rng.int(URI_CHARS.length)];
      return {kind: "pending", uri};
    }
    default: {
      let tag = rng.bytes(8);
      // A random tag that happens to be a known one would not stay unknown.
      tag[0] = 0x10 + rng.int(0x20);
      return {kind: "unknown", tag, payload: rng.bytes(rng.int(4) === 0 ? rng.int(300) : rng.int(20))};
    }
  }
}

function randomOp(rng: Rng, msg: Uint8Array): Op {
  const room = 4096 - msg.length;
  const choices: Array<() => Op> = [
    () => ({kind: "sha256"}),
    () => ({kind: "sha1"}),
    () => ({kind: "ripemd160"}),
    () => ({kind: "keccak256"}),
  ];
  if (room >= 1) {
    const arg = (): Uint8Array => rng.bytes(1 + rng.int(Math.min(room, rng.int(8) === 0 ? 600 : 40)));
    choices.push(() => ({kind: "append", arg: arg()}), () => ({kind: "prepend", arg: arg()}));
  }
  if (msg.length > 0) choices.push(() => ({kind: "reverse"}));
  if (msg.length > 0 && msg.length <= 2048) choices.push(() => ({kind: "hexlify"}));
  return rng.pick(choices)();
}

/** A random tree rooted at `msg`: up to `depth` levels, occasionally a long chain. */
export function randomTree(rng: Rng, msg: Uint8Array, depth: number): Timestamp {
  const ts = new Timestamp(msg);
  const fill = (node: Timestamp, d: number): void => {
    const atts = d === 0 ? 1 + rng.int(2) : rng.int(3);
    for (let i = 0; i < atts; i++) node.addAttestation(randomAttestation(rng));
    const ops = d === 0 ? 0 : rng.int(node.attestationCount === 0 ? 3 : 2) + (node.attestationCount === 0 ? 1 : 0);
    for (let i = 0; i < ops; i++) fill(node.addOp(randomOp(rng, node.msg)), d - 1);
    if (node.isEmpty()) node.addAttestation(randomAttestation(rng));
  };
  if (rng.int(50) === 0) {
    // A long chain near the 255-op limit.
    let node = ts;
    const n = 200 + rng.int(56);
    for (let i = 0; i < n; i++) node = node.addOp({kind: "sha256"});
    node.addAttestation(randomAttestation(rng));
  }
  fill(ts, depth);
  return ts;
}

export function randomDetached(rng: Rng): DetachedTimestampFile {
  const kinds = ["sha256", "sha1", "ripemd160", "keccak256"] as const;
  const kind = kinds[rng.int(kinds.length)] as (typeof kinds)[number];
  const len = kind === "sha1" || kind === "ripemd160" ? 20 : 32;
  return detachedFile(kind, randomTree(rng, rng.bytes(len), 1 + rng.int(6)));
}
