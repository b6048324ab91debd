/**
 * Mempool standardness policy of the simulated chain: Bitcoin Core v28/v29
 * defaults, for the kinds of transactions calendars and donors make.
 *
 * Rules implemented (Core's reject reason in quotes):
 * - version 1..3, else "version"; weight ≤ 400 000, else "tx-size";
 *   non-witness size ≥ 65 bytes, else "tx-size-small";
 * - scriptSig ≤ 1 650 bytes ("scriptsig-size") and push-only ("scriptsig-not-pushonly");
 * - outputs of a standard type: P2PKH, P2SH, P2WPKH, P2WSH, P2TR, P2A anchor,
 *   other witness versions, and OP_RETURN (nulldata) of at most
 *   `maxDatacarrierBytes` (83) script bytes; anything else, including an
 *   oversized OP_RETURN, is "scriptpubkey" (as before v30);
 *   bare multisig is NOT accepted here (Core would; we never make it);
 * - at most one OP_RETURN output, else "multi-op-return" (as before v30);
 * - no dust: value below (serialized output size + spend size) × dust relay
 *   feerate (3 sat/vB): 546 P2PKH, 294 P2WPKH, 330 P2TR — "dust";
 * - spent prevouts of a standard type ("bad-txns-nonstandard-inputs"), and no
 *   taproot annex ("bad-witness-nonstandard").
 * Not implemented: sigop limits, ancestor/descendant/cluster limits, TRUC
 * (v3) topology rules, package relay, ephemeral dust, mempool size limits.
 */
import {script as bscript, type Transaction} from "bitcoinjs-lib";
import {rejection, type Rejection} from "./rejection.ts";

/** Output script types the simulated chain distinguishes. */
export type OutputType = "p2pkh" | "p2sh" | "p2wpkh" | "p2wsh" | "p2tr" | "anchor" | "witness_unknown" | "nulldata" | "nonstandard";

/** Policy parameters (Core's defaults in comments). */
export type PolicyOptions = {
  /** Dust relay feerate in sat/vB (`-dustrelayfee`, 3). */
  dustRelayFeeRate: number;
  /** Largest OP_RETURN script in bytes (`-datacarriersize`, 83 before v30). */
  maxDatacarrierBytes: number;
};

const MAX_STANDARD_TX_WEIGHT = 400_000;
const MIN_STANDARD_TX_NONWITNESS_SIZE = 65;
const MAX_STANDARD_SCRIPTSIG_SIZE = 1650;
const TX_MAX_STANDARD_VERSION = 3;
const OP_RETURN = 0x6a;
const OP_16 = 0x60;

/** True when every element of a script is a push (Core's IsPushOnly); false for unparsable scripts. */
export function isPushOnly(script: Uint8Array): boolean {
  const chunks = bscript.decompile(script);
  if (chunks === null) return false;
  return chunks.every((c) => typeof c !== "number" || c <= OP_16);
}

/** Classifies an output script as Core's Solver does (for the types above). */
export function classifyOutput(s: Uint8Array): OutputType {
  if (s.length === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 0x14 && s[23] === 0x88 && s[24] === 0xac) return "p2pkh";
  if (s.length === 23 && s[0] === 0xa9 && s[1] === 0x14 && s[22] === 0x87) return "p2sh";
  if (s.length === 22 && s[0] === 0x00 && s[1] === 0x14) return "p2wpkh";
  if (s.length === 34 && s[0] === 0x00 && s[1] === 0x20) return "p2wsh";
  if (s.length === 34 && s[0] === 0x51 && s[1] === 0x20) return "p2tr";
  if (s.length === 4 && s[0] === 0x51 && s[1] === 0x02 && s[2] === 0x4e && s[3] === 0x73) return "anchor";
  if (s.length >= 1 && s[0] === OP_RETURN && isPushOnly(s.subarray(1))) return "nulldata";
  // Other witness programs (version 1..16, 2..40 bytes) are standard to create.
  const version = s[0] ?? 0;
  if (s.length >= 4 && s.length <= 42 && version >= 0x51 && version <= OP_16 && s[1] === s.length - 2) return "witness_unknown";
  return "nonstandard";
}

/** True for segwit outputs (dust is computed with a witness spend size). */
function isWitnessProgram(t: OutputType): boolean {
  return t === "p2wpkh" || t === "p2wsh" || t === "p2tr" || t === "anchor" || t === "witness_unknown";
}

function compactSizeLength(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}

/** Core's GetDustThreshold in satoshis (0 for unspendable OP_RETURN outputs). */
export function dustThreshold(script: Uint8Array, dustRelayFeeRate: number): bigint {
  const type = classifyOutput(script);
  if (type === "nulldata" || (script.length > 0 && script[0] === OP_RETURN)) return 0n;
  let size = 8 + compactSizeLength(script.length) + script.length;
  // Spend size: outpoint 32+4, scriptSig length 1, sequence 4, plus the
  // signature data (107 bytes, discounted ×¼ for witness programs).
  size += isWitnessProgram(type) ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
  return BigInt(Math.floor((size * Math.round(dustRelayFeeRate * 1000)) / 1000));
}

/** IsStandardTx + the minimum size rule; null when standard. */
export function checkStandardTx(tx: Transaction, opts: PolicyOptions): Rejection | null {
  if (tx.version < 1 || tx.version > TX_MAX_STANDARD_VERSION) return rejection("version");
  if (tx.weight() > MAX_STANDARD_TX_WEIGHT) return rejection("tx-size");
  for (const input of tx.ins) {
    if (input.script.length > MAX_STANDARD_SCRIPTSIG_SIZE) return rejection("scriptsig-size");
    if (!isPushOnly(input.script)) return rejection("scriptsig-not-pushonly");
  }
  let dataOutputs = 0;
  for (const out of tx.outs) {
    const type = classifyOutput(out.script);
    if (type === "nonstandard") return rejection("scriptpubkey");
    if (type === "nulldata") {
      if (out.script.length > opts.maxDatacarrierBytes) return rejection("scriptpubkey");
      dataOutputs++;
    } else if (out.value < dustThreshold(out.script, opts.dustRelayFeeRate)) {
      return rejection("dust");
    }
  }
  if (dataOutputs > 1) return rejection("multi-op-return");
  if (tx.byteLength(false) < MIN_STANDARD_TX_NONWITNESS_SIZE) return rejection("tx-size-small");
  return null;
}
