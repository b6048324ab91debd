/**
 * Segwit addresses (BIP173 bech32 for v0, BIP350 bech32m for v1+), encoded
 * and decoded without an ECC library (bitcoinjs-lib needs one registered
 * globally for taproot addresses).
 */
import {BitcoinCodecError, BitcoinCodecErrorCode} from "./errors.ts";

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32_CONST = 1;
const BECH32M_CONST = 0x2bc830a3;
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i] as number;
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] | null {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const max = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & max);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & max);
  } else if (bits >= from || ((acc << (to - bits)) & max) !== 0) {
    return null;
  }
  return out;
}

/** Encodes a witness program as an address for `hrp` ("bc", "tb", "bcrt"). */
export function encodeSegwitAddress(hrp: string, version: number, program: Uint8Array): string {
  const data = [version, ...(convertBits(program, 8, 5, true) as number[])];
  const c = version === 0 ? BECH32_CONST : BECH32M_CONST;
  const mod = polymod([...hrpExpand(hrp), ...data, 0, 0, 0, 0, 0, 0]) ^ c;
  const checksum = Array.from({length: 6}, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...data, ...checksum].map((d) => CHARSET[d]).join("")}`;
}

/** Decodes a segwit address for `hrp`; throws on any error (wrong hrp, checksum, variant, length). */
export function decodeSegwitAddress(hrp: string, address: string): {version: number; program: Uint8Array} {
  const bad = (msg: string): BitcoinCodecError => new BitcoinCodecError({code: BitcoinCodecErrorCode.BAD_HEX}, msg);
  if (address.length > 90 || (address !== address.toLowerCase() && address !== address.toUpperCase())) throw bad("invalid segwit address");
  const lower = address.toLowerCase();
  const sep = lower.lastIndexOf("1");
  if (lower.slice(0, sep) !== hrp) throw bad("wrong address prefix");
  const data: number[] = [];
  for (const ch of lower.slice(sep + 1)) {
    const v = CHARSET.indexOf(ch);
    if (v < 0) throw bad("invalid address character");
    data.push(v);
  }
  if (data.length < 7) throw bad("address too short");
  const version = data[0] as number;
  const c = polymod([...hrpExpand(hrp), ...data]);
  if (c !== (version === 0 ? BECH32_CONST : BECH32M_CONST)) throw bad("bad address checksum");
  const program = convertBits(data.slice(1, -6), 5, 8, false);
  if (program === null || program.length < 2 || program.length > 40 || version > 16) throw bad("invalid witness program");
  if (version === 0 && program.length !== 20 && program.length !== 32) throw bad("invalid v0 witness program length");
  return {version, program: Uint8Array.from(program)};
}
