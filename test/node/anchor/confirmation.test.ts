/**
 * confirmationOf: the checked report of a K-deep version, and its typed
 * refusals when the saved transaction or the path does not hold up.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {blockHeaderHash, encodeBlockHeader} from "../../../protocol/bitcoin/header.ts";
import {bitcoinMerkleBranch} from "../../../protocol/ots/bitcoin.ts";
import {sha256} from "../../../protocol/ots/hashes.ts";
import {confirmationOf} from "../../../node/anchor/confirmation.ts";
import {AnchorError, AnchorErrorCode} from "../../../node/anchor/errors.ts";
import type {AnchorCycle} from "../../../node/anchor/state-file.ts";
import {buildStampTransaction} from "../../../node/anchor/stamp-tx.ts";
import type {TxInclusion} from "../../../node/anchor/tx-watcher.ts";
import {keyPairFromSeed} from "../../../node/bitcoin/signing.ts";

const key = keyPairFromSeed("confirmation test");
const root = sha256(Uint8Array.of(42));
const stamp = buildStampTransaction({input: {txid: sha256(Uint8Array.of(1)), vout: 0, valueSats: 100_000n}, key, root, feeRate: 2, lockTime: 100});

function cycle(tx: Uint8Array = stamp.tx): AnchorCycle<{note: string}> {
  const version = {txid: stamp.txid, tx, root, description: {note: "n"}, feeRate: stamp.feeRate, feeSats: stamp.feeSats, vsize: stamp.vsize, height: 100, timeMs: 0};
  return {id: 4, input: {txid: sha256(Uint8Array.of(1)), vout: 0, valueSats: 100_000n}, startFeeRate: 2, firstHeight: 100, replaceable: false, versions: [version], mined: {version: 0, blockHash: new Uint8Array(32), height: 101}};
}

/** A block holding a coinbase-like txid, then the stamp. */
function inclusion(): TxInclusion {
  const txids = [sha256(Uint8Array.of(9)), stamp.txid, sha256(Uint8Array.of(10))];
  const {root: merkleRoot, branch} = bitcoinMerkleBranch(txids, 1);
  const header = encodeBlockHeader({version: 0x20000000, prevHash: new Uint8Array(32), merkleRoot, time: 1_700_000_000, bits: 0x207fffff, nonce: 0});
  return {block: {hash: blockHeaderHash(header), height: 101}, header, txIndex: 1, branch, confirmations: 6};
}

function code(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (!(e instanceof AnchorError)) throw e;
    return e.code;
  }
}

// ---
const confirmation = suite("node/anchor/confirmation confirmationOf");

confirmation("should report the transaction without witness, the block and the branch, with the description :: good path", () => {
  const inc = inclusion();
  const c = confirmationOf(cycle(), 0, inc);
  assert.equal(c.tx, stamp.txNoWitness);
  assert.equal([c.cycle, c.version, c.versions, c.height, c.txIndex, c.confirmations], [4, 0, 1, 101, 1, 6]);
  assert.equal(c.blockHash, inc.block.hash);
  assert.equal(c.branch, inc.branch);
  assert.equal(c.description, {note: "n"});
  assert.is(c.feeSats, stamp.feeSats);
});

confirmation("should refuse a path that does not reach the header's merkle root :: PATH_MISMATCH", () => {
  const inc = inclusion();
  assert.is(code(() => confirmationOf(cycle(), 0, {...inc, txIndex: 0})), AnchorErrorCode.PATH_MISMATCH);
  assert.is(code(() => confirmationOf(cycle(), 0, {...inc, branch: inc.branch.map((b) => b.map((x) => x ^ 1))})), AnchorErrorCode.PATH_MISMATCH);
});

confirmation("should refuse a saved transaction that does not parse :: UNPARSEABLE_TX", () => {
  assert.is(code(() => confirmationOf(cycle(stamp.tx.slice(0, 20)), 0, inclusion())), AnchorErrorCode.UNPARSEABLE_TX);
});

confirmation.run();
