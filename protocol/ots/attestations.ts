/**
 * Attestations, the leaves of a proof tree (PROTOCOL-NOTES §1.3, python
 * `core/notary.py`). Unknown kinds are kept verbatim so proofs written by
 * newer software survive a round trip through ours.
 */
import {ByteReader, ByteWriter, bytesEqual, compareBytes, fromHex, toHex} from "./bytes.ts";
import {otsError, OtsErrorCode} from "./errors.ts";

export const ATTESTATION_TAG_SIZE = 8;
/** `TimeAttestation.MAX_PAYLOAD_SIZE`. */
export const MAX_ATTESTATION_PAYLOAD = 8192;
/** `PendingAttestation.MAX_URI_LENGTH`. */
export const MAX_PENDING_URI_LENGTH = 1000;

export const AttestationTag = {
  bitcoin: fromHex("0588960d73d71901") as Uint8Array,
  litecoin: fromHex("06869a0d73d71b45") as Uint8Array,
  ethereum: fromHex("30fe8087b5c7ead7") as Uint8Array,
  pending: fromHex("83dfe30d2ef90c8e") as Uint8Array,
} as const;

export type Attestation =
  | {readonly kind: "bitcoin"; readonly height: number}
  | {readonly kind: "litecoin"; readonly height: number}
  | {readonly kind: "ethereum"; readonly height: number}
  | {readonly kind: "pending"; readonly uri: string}
  | {readonly kind: "unknown"; readonly tag: Uint8Array; readonly payload: Uint8Array};

const URI_ALLOWED = /^[A-Za-z0-9._/:-]*$/;

/** Check a Pending URI as the reference does: ≤ 1000 bytes from `[A-Za-z0-9._/:-]`. */
export function checkPendingUri(uri: string): void {
  if (uri.length > MAX_PENDING_URI_LENGTH) throw otsError(OtsErrorCode.BAD_PENDING_URI, `URI exceeds maximum length; ${uri.length} > ${MAX_PENDING_URI_LENGTH}`);
  if (!URI_ALLOWED.test(uri)) throw otsError(OtsErrorCode.BAD_PENDING_URI, "URI contains a character outside [A-Za-z0-9._/:-]");
}

export function pending(uri: string): Attestation {
  checkPendingUri(uri);
  return {kind: "pending", uri};
}

export function bitcoin(height: number): Attestation {
  return {kind: "bitcoin", height};
}

export function attestationTag(a: Attestation): Uint8Array {
  return a.kind === "unknown" ? a.tag : AttestationTag[a.kind];
}

function encodePayload(a: Attestation): Uint8Array {
  const w = new ByteWriter(16);
  switch (a.kind) {
    case "bitcoin":
    case "litecoin":
    case "ethereum":
      w.writeVaruint(a.height);
      break;
    case "pending":
      w.writeVarbytes(new TextEncoder().encode(a.uri));
      break;
    case "unknown":
      return a.payload;
  }
  return w.finish();
}

/** `tag(8) ‖ varbytes(payload)`, without the tree's leading 0x00. */
export function encodeAttestation(a: Attestation, w: ByteWriter): void {
  w.writeBytes(attestationTag(a));
  w.writeVarbytes(encodePayload(a));
}

export function decodeAttestation(r: ByteReader): Attestation {
  const tag = r.readBytes(ATTESTATION_TAG_SIZE);
  const payloadStart = r.pos;
  const payload = r.readVarbytes(MAX_ATTESTATION_PAYLOAD);
  const p = new ByteReader(payload);
  let a: Attestation;
  if (bytesEqual(tag, AttestationTag.pending)) {
    const raw = p.readVarbytes(MAX_PENDING_URI_LENGTH);
    // Allowed bytes are ASCII, so checking bytes is checking the decoded text.
    for (const b of raw) {
      const c = String.fromCharCode(b);
      if (b >= 0x80 || !URI_ALLOWED.test(c)) throw otsError(OtsErrorCode.BAD_PENDING_URI, `Invalid character in URI: 0x${b.toString(16)}`, payloadStart);
    }
    a = {kind: "pending", uri: String.fromCharCode(...raw)};
  } else if (bytesEqual(tag, AttestationTag.bitcoin)) {
    a = {kind: "bitcoin", height: p.readVaruint()};
  } else if (bytesEqual(tag, AttestationTag.litecoin)) {
    a = {kind: "litecoin", height: p.readVaruint()};
  } else if (bytesEqual(tag, AttestationTag.ethereum)) {
    a = {kind: "ethereum", height: p.readVaruint()};
  } else {
    return {kind: "unknown", tag: Uint8Array.from(tag), payload: Uint8Array.from(payload)};
  }
  if (p.remaining !== 0) throw otsError(OtsErrorCode.ATTESTATION_TRAILING_BYTES, `${p.remaining} trailing bytes in attestation payload`, payloadStart);
  return a;
}

/**
 * The reference order: different kinds by 8-byte tag (Bitcoin < Litecoin <
 * Ethereum < Pending), Bitcoin-like by height, Pending by URI, unknown by
 * (tag, payload).
 */
export function compareAttestations(a: Attestation, b: Attestation): number {
  const t = compareBytes(attestationTag(a), attestationTag(b));
  if (t !== 0) return t;
  if (a.kind === "pending" && b.kind === "pending") return a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0;
  if (a.kind === "unknown" && b.kind === "unknown") return compareBytes(a.payload, b.payload);
  if ("height" in a && "height" in b) return a.height - b.height;
  return 0;
}

/** A string that is equal for equal attestations, for sets by value. */
export function attestationKey(a: Attestation): string {
  switch (a.kind) {
    case "pending":
      return `pending:${a.uri}`;
    case "unknown":
      return `unknown:${toHex(a.tag)}:${toHex(a.payload)}`;
    default:
      return `${a.kind}:${a.height}`;
  }
}

function pyBytesRepr(b: Uint8Array): string {
  let s = "b'";
  for (const c of b) {
    if (c === 0x27) s += "\\'";
    else if (c === 0x5c) s += "\\\\";
    else if (c === 0x0a) s += "\\n";
    else if (c === 0x0d) s += "\\r";
    else if (c === 0x09) s += "\\t";
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return `${s}'`;
}

/** `ots info` spelling, e.g. `BitcoinBlockHeaderAttestation(358391)`. */
export function attestationToString(a: Attestation): string {
  switch (a.kind) {
    case "bitcoin":
      return `BitcoinBlockHeaderAttestation(${a.height})`;
    case "litecoin":
      return `LitecoinBlockHeaderAttestation(${a.height})`;
    case "ethereum":
      return `EthereumBlockHeaderAttestation(${a.height})`;
    case "pending":
      return `PendingAttestation('${a.uri}')`;
    case "unknown":
      return `UnknownAttestation(${pyBytesRepr(a.tag)}, ${pyBytesRepr(a.payload)})`;
  }
}
