/**
 * The node's Ed25519 identity: created on first start in the data dir as a
 * libp2p private key protobuf (so the federation layer reuses it as its
 * peer id), used to sign journal checkpoints. The calendar id is the peer
 * id's bytes (an identity multihash of the public key), so anyone holding a
 * checkpoint can check its signature without another lookup.
 */
import {readdir, readFile, stat} from "node:fs/promises";
import {basename, join} from "node:path";
import {generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromProtobuf} from "@libp2p/crypto/keys";
import {peerIdFromPrivateKey, peerIdFromPublicKey, peerIdFromString} from "@libp2p/peer-id";
import type {PrivateKey} from "@libp2p/interface";
import {CalendarError} from "../protocol/errors.ts";
import {writeFileAtomic} from "./fsutil.ts";
import {JOURNAL_DIR} from "./calendar/journal-store.ts";

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

export const IdentityErrorCode = {
  /** identity.key is gone but the data dir holds this calendar's journal: a new key would be another calendar. */
  MISSING: "IDENTITY_MISSING",
  /** identity.key does not hold an Ed25519 libp2p private key. */
  DAMAGED: "IDENTITY_DAMAGED",
  /** A key file others may read (group or world permission bits). */
  INSECURE: "IDENTITY_INSECURE",
} as const;
export type IdentityErrorCode = (typeof IdentityErrorCode)[keyof typeof IdentityErrorCode];
export class IdentityError extends CalendarError<{code: IdentityErrorCode}> {}

/**
 * Refuse a secret key file that group or others may read, as ssh does: a
 * copied data dir must not silently spread the key. Names the fix.
 */
export async function checkKeyFileMode(path: string): Promise<void> {
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new IdentityError({code: IdentityErrorCode.INSECURE}, `${path} is readable by others (mode ${mode.toString(8).padStart(4, "0")}); it is a secret key: run 'chmod 600 ${path}'`);
}

/** Write a secret key file atomically with mode 0600 (never through a temporary file a crash left with another mode). */
export async function writeSecretFile(dir: string, path: string, data: Uint8Array): Promise<void> {
  await writeFileAtomic(dir, basename(path), data, 0o600);
}

async function readIdentity(path: string): Promise<Identity | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  await checkKeyFileMode(path);
  let key: PrivateKey;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (e) {
    throw new IdentityError({code: IdentityErrorCode.DAMAGED}, `${path} does not hold a libp2p private key (${(e as Error).message}); restore it from a backup`);
  }
  if (key.type !== "Ed25519") throw new IdentityError({code: IdentityErrorCode.DAMAGED}, `${path} holds a ${key.type} key, expected Ed25519`);
  return toIdentity(key);
}

/** True when `dataDir/journal/` holds segments: the data dir already is a calendar. */
async function holdsJournal(dataDir: string): Promise<boolean> {
  try {
    return (await readdir(join(dataDir, JOURNAL_DIR))).some((n) => n.endsWith(".seg"));
  } catch {
    return false;
  }
}

/**
 * Load `DIR/identity.key`, or create it (mode 0600, written atomically) if
 * absent — but never next to an existing journal, which belongs to the key
 * that was lost (IDENTITY_MISSING). A damaged or group-readable key file is
 * refused, naming it.
 */
export async function loadOrCreateIdentity(dataDir: string): Promise<{identity: Identity; created: boolean}> {
  const path = join(dataDir, IDENTITY_FILE);
  const found = await readIdentity(path);
  if (found) return {identity: found, created: false};
  if (await holdsJournal(dataDir)) {
    throw new IdentityError({code: IdentityErrorCode.MISSING}, `${path} is missing but ${join(dataDir, JOURNAL_DIR)} holds this calendar's journal, which only that key can continue: restore ${IDENTITY_FILE} from a backup (a new key would be a different calendar)`);
  }
  const key = await generateKeyPair("Ed25519");
  await writeSecretFile(dataDir, path, privateKeyToProtobuf(key));
  return {identity: toIdentity(key), created: true};
}

/** The identity in `dataDir`, or null if none was created yet (read-only tools). */
export async function loadIdentity(dataDir: string): Promise<Identity | null> {
  return readIdentity(join(dataDir, IDENTITY_FILE));
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
