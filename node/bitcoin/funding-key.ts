/**
 * The calendar's own stamping key (the funding design in README.md): 32
 * random bytes kept in `<dataDir>/bitcoin-key` (mode 0600), from which the
 * node derives its P2WPKH address, the public descriptor it asks Bitcoin
 * Core to watch, and the private descriptor an operator imports into Core
 * to recover the funds. The secret never leaves this module except through
 * `privateDescriptor` (never log it).
 */
import {randomBytes} from "node:crypto";
import {readFile} from "node:fs/promises";
import {join} from "node:path";
import {bytesToHex, hexToBytes} from "@noble/hashes/utils.js";
import * as ecc from "@bitcoinerlab/secp256k1";
import {ECPairFactory} from "ecpair";
import {addDescriptorChecksum} from "../../protocol/bitcoin/descriptor-checksum.ts";
import {networkOf, scriptToAddress, type ChainName} from "./address.ts";
import {writeFileAtomic} from "../fsutil.ts";
import {checkKeyFileMode, IdentityError, IdentityErrorCode, writeSecretFile} from "../identity.ts";
import {keyPairFromPrivateKey, p2wpkhScript, type KeyPair} from "./signing.ts";

/** File name of the key inside the data directory. */
export const FUNDING_KEY_FILE = "bitcoin-key";

/**
 * File beside the key naming the chain the Bitcoin node last said it is on
 * (one line, e.g. `regtest`). The key itself belongs to no chain, its
 * address does: remembering the chain lets the node show its address from
 * the moment it starts instead of after its first contact with bitcoind.
 * A separate file so that the secret is never rewritten for it.
 */
export const FUNDING_CHAIN_FILE = "bitcoin-chain";

const CHAIN_NAMES: readonly string[] = ["main", "test", "testnet4", "signet", "regtest"] satisfies ChainName[];

/** Whether `s` is a chain name `getblockchaininfo` reports. */
export function isChainName(s: string): s is ChainName {
  return CHAIN_NAMES.includes(s);
}

/** The chain remembered beside the key, or null (none yet, or not a chain name: then the node's next answer rewrites it). */
export async function readRememberedChain(dataDir: string): Promise<ChainName | null> {
  try {
    const text = (await readFile(join(dataDir, FUNDING_CHAIN_FILE), "utf8")).trim();
    return isChainName(text) ? text : null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/** Remembers `chain` beside the key (atomically). */
export async function rememberChain(dataDir: string, chain: ChainName): Promise<void> {
  await writeFileAtomic(dataDir, FUNDING_CHAIN_FILE, new TextEncoder().encode(`${chain}\n`));
}

/** What the node shows and uses. */
export type FundingKey = {
  key: KeyPair;
  script: Uint8Array;
  /** Address to send stamping funds to (status page). */
  address: string;
  /** `wpkh(<pubkey>)#checksum`: imported watch-only into Core. */
  descriptor: string;
  /** `wpkh(<WIF>)#checksum`: import into Core to recover the funds. Secret. */
  privateDescriptor: string;
};

/** Derives address and descriptors for a key on `chain`. */
export function fundingKeyOf(key: KeyPair, chain: ChainName): FundingKey {
  const script = p2wpkhScript(key.publicKey);
  const wif = ECPairFactory(ecc).fromPrivateKey(key.privateKey, {network: networkOf(chain)}).toWIF();
  return {
    key,
    script,
    address: scriptToAddress(script, chain) as string,
    descriptor: addDescriptorChecksum(`wpkh(${bytesToHex(key.publicKey)})`),
    privateDescriptor: addDescriptorChecksum(`wpkh(${wif})`),
  };
}

/** Loads `<dataDir>/bitcoin-key`, creating it (exclusive, 0600) when absent. */
export async function loadOrCreateFundingKey(dataDir: string, chain: ChainName, random: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n))): Promise<FundingKey> {
  const path = join(dataDir, FUNDING_KEY_FILE);
  let text: string;
  try {
    text = (await readFile(path, "utf8")).trim();
    await checkKeyFileMode(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    let secret = random(32);
    while (!isValidSecret(secret)) secret = random(32);
    text = bytesToHex(secret);
    // Atomic: a crash mid-write must not leave half a key where the funds' key belongs.
    await writeSecretFile(dataDir, path, new TextEncoder().encode(`${text}\n`));
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new IdentityError({code: IdentityErrorCode.DAMAGED}, `${path}: expected 64 lowercase hex characters (the stamping key); restore it from a backup`);
  return fundingKeyOf(keyPairFromPrivateKey(hexToBytes(text)), chain);
}

function isValidSecret(secret: Uint8Array): boolean {
  try {
    keyPairFromPrivateKey(secret);
    return true;
  } catch {
    return false;
  }
}
