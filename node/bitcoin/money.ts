/** Amount formatting as Bitcoin Core prints it in RPC results and messages. */

/** Satoshis as a JSON number of BTC (RPC results: `"amount": 0.00012345`). */
export function satsToBtcNumber(sats: bigint): number {
  return Number(sats) / 1e8;
}

/** BTC (a JSON number from RPC) to satoshis; exact for every representable amount. */
export function btcNumberToSats(btc: number): bigint {
  if (!Number.isFinite(btc)) throw new RangeError("amount is not finite");
  return BigInt(Math.round(btc * 1e8));
}

/** Core's FormatMoney: 8 decimals, trailing zeros trimmed down to two ("0.0001", "1.00"). */
export function formatMoney(sats: bigint): string {
  const neg = sats < 0n;
  const abs = neg ? -sats : sats;
  let s = `${abs / 100_000_000n}.${(abs % 100_000_000n).toString().padStart(8, "0")}`;
  while (s.endsWith("0") && s[s.length - 3] !== ".") s = s.slice(0, -1);
  return neg ? `-${s}` : s;
}

/** Core's CFeeRate::ToString for a sat/kvB rate: "0.00001000 BTC/kvB". */
export function formatFeeRate(satPerKvB: bigint): string {
  return `${satPerKvB / 100_000_000n}.${(satPerKvB % 100_000_000n).toString().padStart(8, "0")} BTC/kvB`;
}
