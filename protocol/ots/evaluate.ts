/** Walking a proof: every attestation with the message it attests. */
import type {Attestation} from "./attestations.ts";
import type {Op} from "./ops.ts";
import type {Timestamp} from "./timestamp.ts";

export type AttestedMessage = {
  /** The message at the node that carries the attestation. */
  msg: Uint8Array;
  attestation: Attestation;
  /** The ops from the root to that node. */
  path: Op[];
};

/** Every attestation in the tree, depth first in canonical order. */
export function listAttestations(ts: Timestamp): AttestedMessage[] {
  const out: AttestedMessage[] = [];
  const walk = (node: Timestamp, path: Op[]): void => {
    for (const attestation of node.attestations) out.push({msg: node.msg, attestation, path});
    for (const [op, child] of node.ops) walk(child, [...path, op]);
  };
  walk(ts, []);
  return out;
}

/** The longest run of ops from the root to a leaf. */
export function maxPathLength(ts: Timestamp): number {
  let best = 0;
  for (const [, child] of ts.ops) best = Math.max(best, 1 + maxPathLength(child));
  return best;
}
