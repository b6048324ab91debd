/**
 * A strict reader of Bitcoin transactions, just enough to tell whether a
 * message is a whole transaction (as `ots info` does with python-bitcoinlib's
 * `CTransaction.deserialize`) and to strip its witness.
 */
import {ByteReader, ByteWriter} from "./bytes.ts";

/** python-bitcoinlib's MAX_SIZE for one serialized field. */
const MAX_FIELD = 0x02000000;

function readCompactSize(r: ByteReader): number {
  const b = r.readByte();
  const le = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) v += r.readByte() * 2 ** (8 * i);
    return v;
  };
  if (b < 0xfd) return b;
  if (b === 0xfd) return le(2);
  if (b === 0xfe) return le(4);
  return le(8);
}

function writeCompactSize(w: ByteWriter, n: number): void {
  if (n < 0xfd) w.writeByte(n);
  else if (n <= 0xffff) {
    w.writeByte(0xfd);
    w.writeByte(n & 0xff);
    w.writeByte(n >>> 8);
  } else {
    w.writeByte(0xfe);
    for (let i = 0; i < 4; i++) w.writeByte((n >>> (8 * i)) & 0xff);
  }
}

export type TxIn = {prevout: Uint8Array; scriptSig: Uint8Array; sequence: Uint8Array};
export type TxOut = {value: Uint8Array; script: Uint8Array};
export type ParsedTx = {version: Uint8Array; vin: TxIn[]; vout: TxOut[]; witness: Uint8Array[][] | null; lockTime: Uint8Array};

function readField(r: ByteReader): Uint8Array {
  const n = readCompactSize(r);
  if (n > MAX_FIELD) throw new RangeError("field too long");
  return r.readBytes(n);
}

function readVector<T>(r: ByteReader, item: () => T): T[] {
  const n = readCompactSize(r);
  // Each item takes at least one byte, so a count beyond what is left is a lie.
  if (n > r.remaining) throw new RangeError("vector count exceeds data");
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(item());
  return out;
}

/** Parse a whole transaction (with or without BIP144 witness); null if `bytes` is not exactly one. */
export function parseTransaction(bytes: Uint8Array): ParsedTx | null {
  try {
    const r = new ByteReader(bytes);
    const tx = readTransaction(r);
    return r.remaining === 0 ? tx : null;
  } catch {
    return null;
  }
}

/** A serialized block: the 80-byte header and its transactions in order. */
export type ParsedBlock = {header: Uint8Array; txs: ParsedTx[]};

/** Parse a whole block; throws RangeError or a truncation error on anything else. */
export function parseBlock(bytes: Uint8Array): ParsedBlock {
  const r = new ByteReader(bytes);
  const header = r.readBytes(80);
  const txs = readVector(r, () => readTransaction(r));
  r.assertEof();
  return {header, txs};
}

function readTransaction(r: ByteReader): ParsedTx {
  {
    const version = r.readBytes(4);
    let segwit = false;
    if (r.remaining >= 2 && r.buf[r.pos] === 0 && r.buf[r.pos + 1] === 1) {
      segwit = true;
      r.pos += 2;
    }
    const vin = readVector(r, () => ({prevout: r.readBytes(36), scriptSig: readField(r), sequence: r.readBytes(4)}));
    const vout = readVector(r, () => ({value: r.readBytes(8), script: readField(r)}));
    const witness = segwit ? vin.map(() => readVector(r, () => readField(r))) : null;
    const lockTime = r.readBytes(4);
    return {version, vin, vout, witness, lockTime};
  }
}

/** The non-witness serialization: exactly the txid preimage, what proofs commit to. */
export function serializeWithoutWitness(tx: ParsedTx): Uint8Array {
  const w = new ByteWriter(256);
  w.writeBytes(tx.version);
  writeCompactSize(w, tx.vin.length);
  for (const i of tx.vin) {
    w.writeBytes(i.prevout);
    writeCompactSize(w, i.scriptSig.length);
    w.writeBytes(i.scriptSig);
    w.writeBytes(i.sequence);
  }
  writeCompactSize(w, tx.vout.length);
  for (const o of tx.vout) {
    w.writeBytes(o.value);
    writeCompactSize(w, o.script.length);
    w.writeBytes(o.script);
  }
  w.writeBytes(tx.lockTime);
  return w.finish();
}
