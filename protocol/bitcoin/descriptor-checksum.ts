/**
 * Output descriptor checksums (BIP 380), as Bitcoin Core computes and demands
 * them in `importdescriptors`: `DESC#xxxxxxxx`.
 */
import {BitcoinCodecError, BitcoinCodecErrorCode} from "./errors.ts";

const INPUT_CHARSET = "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
const CHECKSUM_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATOR = [0xf5dee51989n, 0xa9fdca3312n, 0x1bab10e32dn, 0x3706b1677an, 0x644d626ffdn];

function polymod(symbols: number[]): bigint {
  let chk = 1n;
  for (const value of symbols) {
    const top = chk >> 35n;
    chk = ((chk & 0x7ffffffffn) << 5n) ^ BigInt(value);
    for (let i = 0; i < 5; i++) if (((top >> BigInt(i)) & 1n) === 1n) chk ^= GENERATOR[i] as bigint;
  }
  return chk;
}

function expand(desc: string): number[] {
  const symbols: number[] = [];
  const groups: number[] = [];
  for (const c of desc) {
    const v = INPUT_CHARSET.indexOf(c);
    if (v < 0) throw new BitcoinCodecError({code: BitcoinCodecErrorCode.DESCRIPTOR_CHARSET}, "descriptor has a character outside the BIP 380 charset");
    symbols.push(v & 31);
    groups.push(v >> 5);
    if (groups.length === 3) {
      symbols.push((groups[0] as number) * 9 + (groups[1] as number) * 3 + (groups[2] as number));
      groups.length = 0;
    }
  }
  if (groups.length === 1) symbols.push(groups[0] as number);
  else if (groups.length === 2) symbols.push((groups[0] as number) * 3 + (groups[1] as number));
  return symbols;
}

/** The 8-character checksum of a descriptor given without `#…`. */
export function descriptorChecksum(desc: string): string {
  const c = polymod([...expand(desc), 0, 0, 0, 0, 0, 0, 0, 0]) ^ 1n;
  let out = "";
  for (let i = 0; i < 8; i++) out += CHECKSUM_CHARSET[Number((c >> BigInt(5 * (7 - i))) & 31n)];
  return out;
}

/** `desc#checksum`. */
export function addDescriptorChecksum(desc: string): string {
  return `${desc}#${descriptorChecksum(desc)}`;
}

/**
 * Splits `desc#checksum` and checks the checksum. A missing checksum is an
 * error (as in `importdescriptors`). Returns the descriptor without it.
 */
export function checkDescriptorChecksum(withChecksum: string): string {
  const i = withChecksum.lastIndexOf("#");
  const desc = i < 0 ? withChecksum : withChecksum.slice(0, i);
  const got = i < 0 ? null : withChecksum.slice(i + 1);
  const expected = descriptorChecksum(desc);
  if (got !== expected) throw new BitcoinCodecError({code: BitcoinCodecErrorCode.DESCRIPTOR_CHECKSUM, expected, got}, got === null ? "Missing checksum" : `Provided checksum '${got}' does not match computed checksum '${expected}'`);
  return desc;
}
