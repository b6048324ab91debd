/**
 * The text tree `ots info` prints (python `Timestamp.str_tree`, verbosity 0),
 * so our output can be compared line for line with the reference's.
 */
import {attestationToString} from "./attestations.ts";
import {toDisplayHex} from "./bytes.ts";
import {sha256d} from "./hashes.ts";
import {opToString} from "./ops.ts";
import {parseTransaction} from "./bitcoin-tx.ts";
import type {DetachedTimestampFile} from "./detached.ts";
import {toHex} from "./bytes.ts";
import type {Timestamp} from "./timestamp.ts";

export function formatTimestampTree(ts: Timestamp, indent = 0): string {
  const pad = " ".repeat(indent);
  let r = "";
  for (const a of ts.attestations) {
    r += `${pad}verify ${attestationToString(a)}\n`;
    if (a.kind === "bitcoin") r += `${pad}# Bitcoin block merkle root ${toDisplayHex(ts.msg)}\n`;
    if (a.kind === "litecoin") r += `${pad}# Litecoin block merkle root ${toDisplayHex(ts.msg)}\n`;
  }
  const ops = ts.ops;
  const txNote = (mark: string): string => (parseTransaction(ts.msg) ? `${pad}${mark} Transaction id ${toDisplayHex(sha256d(ts.msg))}\n` : "");
  if (ops.length > 1) {
    for (const [op, child] of ops) {
      r += txNote("*");
      r += `${pad} -> ${opToString(op)}\n`;
      r += formatTimestampTree(child, indent + 4);
    }
  } else if (ops.length === 1) {
    const [op, child] = ops[0] as [Parameters<typeof opToString>[0], Timestamp];
    r += txNote("#");
    r += `${pad}${opToString(op)}\n`;
    r += formatTimestampTree(child, indent);
  }
  return r;
}

/** `File sha256 hash: …`, `Timestamp:`, then the tree. */
export function formatDetachedInfo(f: DetachedTimestampFile): string {
  return `File ${f.fileHashOp} hash: ${toHex(f.timestamp.msg)}\nTimestamp:\n${formatTimestampTree(f.timestamp)}`;
}
