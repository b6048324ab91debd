/**
 * The node's Ed25519 identity: created on first start in the data dir as a
 * libp2p private key protobuf (so the federation layer reuses it as its
 * peer id), used to sign journal checkpoints. The calendar id is the peer
 * id's bytes (an identity multihash of the public key), so anyone holding a
 * checkpoint can check its signature without another lookup.
 */
import {open, readFile, rename, unlink} from "node:fs/promises";
import {join} from "node:path";
import {generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromProtobuf} from "@libp2p/crypto/keys";
import {peerIdFromPrivateKey, peerIdFromPublicKey, peerIdFromString} from "@libp2p/peer-id";
import type {PrivateKey} from "@libp2p/interface";
import {fsyncDir} from "./calendar/fsutil.ts";

export const IDENTITY_FILE = "identity.key";

export type Identity = {
  privateKey: PrivateKey;
  /** Peer id string (base58), for logs and the status page. */
  peerId: string;
  /** Peer id bytes: the calendar id in journal headers and checkpoints. */
  calendarId: Uint8Array;
  sign(data: Uint8Array): Promise<Uint8Array>;
  verify(data: Uint8Array, signature: Uint8Array): Promise<boolean>;
};

function toIdentity(privateKey: PrivateKey): Identity {
  const peerId = peerIdFromPrivateKey(privateKey);
  return {
    privateKey,
    peerId: peerId.toString(),
    calendarId: peerId.toMultihash().bytes,
    sign: async (data) => privateKey.sign(data),
    verify: async (data, sig) => privateKey.publicKey.verify(data, sig),
  };
}

/** Load `DIR/identity.key`, or create it (mode 0600, written atomically) if absent. */
export async function loadOrCreateIdentity(dataDir: string): Promise<{identity: Identity; created: boolean}> {
  const path = join(dataDir, IDENTITY_FILE);
  try {
    const bytes = await readFile(path);
    const key = privateKeyFromProtobuf(bytes);
    if (key.type !== "Ed25519") throw new Error(`${path} holds a ${key.type} key, expected Ed25519`);
    return {identity: toIdentity(key), created: false};
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const key = await generateKeyPair("Ed25519");
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(privateKeyToProtobuf(key));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fsyncDir(dataDir);
  return {identity: toIdentity(key), created: true};
}

/** The identity in `dataDir`, or null if none was created yet (read-only tools). */
export async function loadIdentity(dataDir: string): Promise<Identity | null> {
  try {
    return toIdentity(privateKeyFromProtobuf(await readFile(join(dataDir, IDENTITY_FILE))));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/**
 * The public key a calendar id names: the id is an identity multihash
 * (code 0x00, varint length) of the public key protobuf. Null if it is not
 * one (e.g. an RSA peer id, which hashes the key instead).
 */
function publicKeyOfCalendarId(calendarId: Uint8Array): ReturnType<typeof publicKeyFromProtobuf> | null {
  if (calendarId.length < 3 || calendarId[0] !== 0x00) return null;
  const len = calendarId[1] as number;
  if (len >= 0x80 || calendarId.length !== 2 + len) return null;
  try {
    return publicKeyFromProtobuf(calendarId.subarray(2));
  } catch {
    return null;
  }
}

/** A checker of signatures by the calendar `calendarId` names; null if the id embeds no public key. */
export function verifierForCalendarId(calendarId: Uint8Array): ((data: Uint8Array, sig: Uint8Array) => Promise<boolean>) | null {
  const key = publicKeyOfCalendarId(calendarId);
  return key === null ? null : async (data, sig) => key.verify(data, sig);
}

/** A calendar id as people and file names see it: the peer id string (`12D3KooW…`); null if it embeds no public key. */
export function calendarIdToString(calendarId: Uint8Array): string | null {
  const key = publicKeyOfCalendarId(calendarId);
  return key === null ? null : peerIdFromPublicKey(key).toString();
}

/** The calendar id bytes of a peer id string; null unless it is an Ed25519 peer id (one that embeds its key). */
export function calendarIdFromString(s: string): Uint8Array | null {
  try {
    const id = peerIdFromString(s);
    return id.type === "Ed25519" ? id.toMultihash().bytes : null;
  } catch {
    return null;
  }
}
