/**
 * Bitcoin's regtest genesis block, rebuilt from its parts so the simulated
 * chain starts where a real `bitcoind -regtest` starts
 * (hash 0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206).
 */
import {hexToBytes} from "@noble/hashes/utils.js";
import {Transaction} from "bitcoinjs-lib";
import {encodeBlockHeader} from "../../../protocol/bitcoin/header.ts";

/** Regtest's minimum-difficulty compact target. */
export const REGTEST_BITS = 0x207fffff;

const GENESIS_SCRIPTSIG =
  "04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73";
const GENESIS_OUTPUT_SCRIPT =
  "4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac";

/** The genesis coinbase and 80-byte header. */
export function regtestGenesis(): {coinbase: Transaction; header: Uint8Array} {
  const coinbase = new Transaction();
  coinbase.version = 1;
  coinbase.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, hexToBytes(GENESIS_SCRIPTSIG));
  coinbase.addOutput(hexToBytes(GENESIS_OUTPUT_SCRIPT), 5_000_000_000n);
  const header = encodeBlockHeader({
    version: 1,
    prevHash: new Uint8Array(32),
    merkleRoot: coinbase.getHash(),
    time: 1296688602,
    bits: REGTEST_BITS,
    nonce: 2,
  });
  return {coinbase, header};
}
