/**
 * The simulated devnet's wallet: a deterministic P2WPKH key that mines
 * coinbases and hands out confirmed coins to calendars and to tests acting
 * as donors. Every coin it gives is a real, signed transaction accepted by
 * the simulated chain's mempool and mined into a block.
 */
import {Transaction} from "bitcoinjs-lib";
import {bytesEqual, displayHexToHash} from "../../../protocol/bitcoin/hash.ts";
import {keyPairFromSeed, p2wpkhScript, signP2wpkhInput, type KeyPair} from "../signing.ts";
import type {SimulatedChain} from "./chain.ts";

/** A confirmed (or mempool) output handed out by {@link SimulatedWallet.fund}. */
export type FundedOutput = {txid: Uint8Array; vout: number; value: bigint; script: Uint8Array};

/** Options of {@link SimulatedWallet.fund}. */
export type FundOptions = {
  /** Feerate of the funding transaction, sat/vB (default 2). */
  feeRate?: number;
  /** Mine a block so the outputs are confirmed (default true). */
  confirm?: boolean;
};

/** The simulated devnet wallet (see the module comment). */
export class SimulatedWallet {
  readonly key: KeyPair;
  readonly script: Uint8Array;
  private readonly chain: SimulatedChain;

  /** `seed` labels the deterministic key (default "simulated-devnet-wallet"). */
  constructor(chain: SimulatedChain, seed = "simulated-devnet-wallet") {
    this.chain = chain;
    this.key = keyPairFromSeed(seed);
    this.script = p2wpkhScript(this.key.publicKey);
  }

  /** Confirmed, mature coins of this wallet not spent in the mempool, largest first. */
  spendableCoins(): Array<{txid: string; vout: number; value: bigint}> {
    const next = this.chain.height() + 1;
    return this.chain
      .coinsWhere((s) => bytesEqual(s, this.script))
      .filter(({txid, vout, coin}) => (!coin.coinbase || next - coin.height >= this.chain.opts.coinbaseMaturity) && this.chain.mempoolSpender(txid, vout) === null)
      .map(({txid, vout, coin}) => ({txid, vout, value: coin.value}))
      .sort((a, b) => (a.value === b.value ? 0 : a.value > b.value ? -1 : 1));
  }

  /** Mines blocks to this wallet until it has a mature coin (101 blocks on a fresh chain). */
  ensureMatureCoins(): void {
    if (this.spendableCoins().length > 0) return;
    const firstOwn = this.chain.coinsWhere((s) => bytesEqual(s, this.script)).length === 0;
    this.chain.mine(firstOwn ? this.chain.opts.coinbaseMaturity + 1 : 1, this.script);
    while (this.spendableCoins().length === 0) this.chain.mine(1, this.script);
  }

  /**
   * Pays each of `amounts` to `script` in one signed transaction (change back
   * to the wallet) and, by default, mines it. Returns the new outputs.
   */
  fund(script: Uint8Array, amounts: readonly bigint[], opts: FundOptions = {}): FundedOutput[] {
    const feeRate = opts.feeRate ?? 2;
    const total = amounts.reduce((a, b) => a + b, 0n);
    this.ensureMatureCoins();
    const coins = this.spendableCoins();
    const inputs: typeof coins = [];
    let gathered = 0n;
    // Generous fee reserve while selecting; the exact fee is set after signing.
    const reserve = BigInt(Math.ceil(feeRate * (100 + 70 * (amounts.length + 1) + 70 * coins.length)));
    for (const c of coins) {
      if (gathered >= total + reserve) break;
      inputs.push(c);
      gathered += c.value;
    }
    if (gathered < total + reserve) {
      this.chain.mine(1, this.script);
      if (this.spendableCoins().length > coins.length) return this.fund(script, amounts, opts);
      throw new Error("simulated wallet: not enough coins");
    }
    const build = (fee: bigint): Transaction => {
      const tx = new Transaction();
      tx.version = 2;
      for (const c of inputs) tx.addInput(displayHexToHash(c.txid), c.vout, 0xfffffffd);
      for (const a of amounts) tx.addOutput(script, a);
      tx.addOutput(this.script, gathered - total - fee);
      inputs.forEach((c, i) => signP2wpkhInput(tx, i, this.key, c.value));
      return tx;
    };
    const draft = build(0n);
    const tx = build(BigInt(Math.ceil(draft.virtualSize() * feeRate)));
    this.chain.submit(tx);
    if (opts.confirm !== false) this.chain.mine(1, this.script);
    const txid = tx.getHash();
    return amounts.map((value, vout) => ({txid, vout, value, script}));
  }
}
