/**
 * Test helpers for the Bitcoin backends: a frozen-then-stepping clock, and a
 * builder of signed P2WPKH / P2TR key-path spends.
 */
import {Transaction} from "bitcoinjs-lib";
import {opReturnScript, signP2trKeyPathInput, signP2wpkhInput, type KeyPair} from "../../../node/bitcoin/signing.ts";
import type {Clock} from "../../../node/clock.ts";

/** A deterministic clock starting at 2025-01-01 that tests can move. */
export function testClock(startMs = Date.UTC(2025, 0, 1)): Clock & {advance(ms: number): void} {
  let now = startMs;
  return {now: () => now, advance: (ms: number) => (now += ms)};
}

/** An output being spent. */
export type SpendInput = {txid: Uint8Array; vout: number; value: bigint; script: Uint8Array; key: KeyPair; type: "p2wpkh" | "p2tr"; sequence?: number};

/** Builds and signs a version-2 transaction. */
export function buildSpend(inputs: SpendInput[], outputs: Array<{script: Uint8Array; value: bigint}>, locktime = 0): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = locktime;
  for (const i of inputs) tx.addInput(i.txid, i.vout, i.sequence ?? 0xfffffffd);
  for (const o of outputs) tx.addOutput(o.script, o.value);
  const prevouts = inputs.map((i) => ({script: i.script, value: i.value}));
  inputs.forEach((i, n) => {
    if (i.type === "p2wpkh") signP2wpkhInput(tx, n, i.key, i.value);
    else signP2trKeyPathInput(tx, n, i.key, prevouts);
  });
  return tx;
}

/** The stamper's shape: one input, `OP_RETURN <32 bytes>`, change paying `fee`. */
export function stampTx(input: SpendInput, tip: Uint8Array, change: Uint8Array, fee: bigint): Transaction {
  return buildSpend([input], [{script: opReturnScript(tip), value: 0n}, {script: change, value: input.value - fee}]);
}

/** 32 deterministic bytes. */
export function bytes32(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill);
}
