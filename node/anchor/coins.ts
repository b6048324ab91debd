/**
 * Which coin a new cycle spends: our largest confirmed coin that no cycle in
 * flight spends and that can leave non-dust change. Unconfirmed coins are
 * never spent (a chain of unconfirmed anchors would confirm only together),
 * but they are counted, so the client can say that funds are on their way.
 */
import {bytesEqual, toHex} from "../../protocol/ots/bytes.ts";
import type {BitcoinBackend, Utxo} from "../bitcoin/backend.ts";
import {P2WPKH_DUST_SATS} from "./stamp-tx.ts";

/** A coin as a cycle records it. */
export type Outpoint = {txid: Uint8Array; vout: number};

/** The coin to spend, or null with the sats still unconfirmed. */
export type CoinChoice = {coin: Utxo} | {coin: null; unconfirmedSats: bigint};

/** Picks the coin (see the module comment) among `script`'s unspent outputs, skipping `spent`. */
export async function pickCoin(backend: BitcoinBackend, script: Uint8Array, spent: readonly Outpoint[], signal: AbortSignal): Promise<CoinChoice> {
  const taken = new Set(spent.map((o) => `${toHex(o.txid)}:${o.vout}`));
  const all = await backend.listUnspent(signal, {minConf: 0});
  const ours = all.filter((u) => bytesEqual(u.scriptPubKey, script) && !taken.has(`${toHex(u.txid)}:${u.vout}`));
  const usable = ours.filter((u) => u.confirmations >= 1 && u.valueSats > P2WPKH_DUST_SATS * 2n).sort((a, b) => (a.valueSats < b.valueSats ? 1 : a.valueSats > b.valueSats ? -1 : 0));
  const best = usable[0];
  if (best !== undefined) return {coin: best};
  return {coin: null, unconfirmedSats: ours.filter((u) => u.confirmations === 0).reduce((a, u) => a + u.valueSats, 0n)};
}
