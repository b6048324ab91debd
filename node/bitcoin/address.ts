/**
 * Address ↔ output script for the networks we run on, taproot included
 * (without bitcoinjs-lib's global ECC registration).
 */
import {address as baddress, networks, type Network} from "bitcoinjs-lib";
import {decodeSegwitAddress, encodeSegwitAddress} from "../../protocol/bitcoin/segwit-address.ts";

/** Chain names as `getblockchaininfo` reports them. */
export type ChainName = "main" | "test" | "testnet4" | "signet" | "regtest";

/** bitcoinjs-lib network parameters of a chain. */
export function networkOf(chain: ChainName): Network {
  return chain === "main" ? networks.bitcoin : chain === "regtest" ? networks.regtest : networks.testnet;
}

/** Output script of an address on `chain`; throws on invalid addresses. */
export function addressToScript(address: string, chain: ChainName): Uint8Array {
  const network = networkOf(chain);
  if (address.toLowerCase().startsWith(`${network.bech32}1`)) {
    const {version, program} = decodeSegwitAddress(network.bech32, address);
    return Uint8Array.from([version === 0 ? 0 : 0x50 + version, program.length, ...program]);
  }
  return baddress.toOutputScript(address, network);
}

/** Address of an output script on `chain`, or null when it has none (OP_RETURN, non-standard). */
export function scriptToAddress(script: Uint8Array, chain: ChainName): string | null {
  const network = networkOf(chain);
  const v = script[0] ?? -1;
  const isWitness = script.length >= 4 && script.length <= 42 && script[1] === script.length - 2 && (v === 0 || (v >= 0x51 && v <= 0x60));
  if (isWitness) {
    try {
      return encodeSegwitAddress(network.bech32, v === 0 ? 0 : v - 0x50, script.subarray(2));
    } catch {
      return null;
    }
  }
  try {
    return baddress.fromOutputScript(script, network);
  } catch {
    return null;
  }
}
