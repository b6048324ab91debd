/**
 * Turns "this version's transaction is K deep at index i of block B" into
 * the checked report a client records: the transaction without witness and
 * the block merkle branch, after checking that the path from the version's
 * root through them ends at the block header's merkle root — the path every
 * proof through this anchor will carry.
 */
import {decodeBlockHeader} from "../../protocol/bitcoin/header.ts";
import {bitcoinBranchOps, txCommitmentOps} from "../../protocol/ots/bitcoin.ts";
import {parseTransaction, serializeWithoutWitness} from "../../protocol/ots/bitcoin-tx.ts";
import {bytesEqual, toDisplayHex} from "../../protocol/ots/bytes.ts";
import {applyOps} from "../../protocol/ots/ops.ts";
import type {AnchorConfirmation} from "./client.ts";
import {AnchorError, AnchorErrorCode} from "./errors.ts";
import type {AnchorCycle, AnchorVersion} from "./state-file.ts";
import type {TxInclusion} from "./tx-watcher.ts";

/** The confirmation of version `index` of `cycle`, included in a block as `inclusion` says. Throws AnchorError (UNPARSEABLE_TX, PATH_MISMATCH). */
export function confirmationOf<D>(cycle: AnchorCycle<D>, index: number, inclusion: TxInclusion): AnchorConfirmation<D> {
  const v = cycle.versions[index] as AnchorVersion<D>;
  const parsed = parseTransaction(v.tx);
  if (parsed === null) throw new AnchorError({code: AnchorErrorCode.UNPARSEABLE_TX, txid: v.txid}, `saved transaction ${toDisplayHex(v.txid)} does not parse`);
  const tx = serializeWithoutWitness(parsed);
  const reached = applyOps([...txCommitmentOps(tx, v.root), ...bitcoinBranchOps(inclusion.txIndex, inclusion.branch)], v.root);
  if (!bytesEqual(reached, decodeBlockHeader(inclusion.header).merkleRoot)) {
    throw new AnchorError({code: AnchorErrorCode.PATH_MISMATCH, txid: v.txid, blockHash: inclusion.block.hash}, `anchor ${toDisplayHex(v.txid)}: proof does not reach the block's merkle root`);
  }
  return {
    cycle: cycle.id,
    version: index,
    versions: cycle.versions.length,
    txid: v.txid,
    root: v.root,
    description: v.description,
    tx,
    blockHash: inclusion.block.hash,
    height: inclusion.block.height,
    header: inclusion.header,
    txIndex: inclusion.txIndex,
    branch: inclusion.branch,
    confirmations: inclusion.confirmations,
    feeSats: v.feeSats,
    feeRate: v.feeRate,
    vsize: v.vsize,
  };
}
