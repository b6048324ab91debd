import {suite} from "uvu";
import * as assert from "uvu/assert";
import {generateKeyPair} from "@libp2p/crypto/keys";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {checkpointSigningBytes, decodeCheckpoint, encodeCheckpoint, verifyCheckpoint} from "../../../protocol/journal/checkpoint.ts";
import {JournalError, JournalErrorCode} from "../../../protocol/journal/errors.ts";
import {withTimeout} from "../../support/timeout.ts";

// ---
const Cp = suite("protocol/journal/checkpoint encodeCheckpoint/decodeCheckpoint/verifyCheckpoint");
Cp("should round-trip and verify an Ed25519 signature :: real key", withTimeout(10_000, async () => {
  const key = await generateKeyPair("Ed25519");
  const body = {calendarId: Uint8Array.of(1, 2, 3), length: 1234, chainHash: new Uint8Array(32).fill(9)};
  const signature = await key.sign(checkpointSigningBytes(body));
  const enc = encodeCheckpoint({...body, signature});
  assert.is(toHex(enc.subarray(0, 9)), "4f54534645444350" + "01");
  const dec = decodeCheckpoint(enc);
  assert.is(dec.length, 1234);
  assert.is(toHex(dec.signature), toHex(signature));
  await verifyCheckpoint(dec, (d, s) => key.publicKey.verify(d, s));
  const forged = decodeCheckpoint(encodeCheckpoint({...body, length: 1235, signature}));
  try {
    await verifyCheckpoint(forged, (d, s) => key.publicKey.verify(d, s));
    assert.unreachable("forged checkpoint verified");
  } catch (e) {
    assert.ok(e instanceof JournalError && e.code === JournalErrorCode.BAD_SIGNATURE);
  }
}));
Cp("should refuse trailing bytes and truncation :: strict", () => {
  const enc = encodeCheckpoint({calendarId: Uint8Array.of(1), length: 0, chainHash: new Uint8Array(32), signature: new Uint8Array(64)});
  const codeOf = (b: Uint8Array): string => {
    try {
      decodeCheckpoint(b);
      return "ok";
    } catch (e) {
      return e instanceof JournalError ? e.code : "other";
    }
  };
  const long = new Uint8Array(enc.length + 1);
  long.set(enc);
  assert.is(codeOf(long), JournalErrorCode.TRAILING_BYTES);
  for (let n = 0; n < enc.length; n++) assert.is.not(codeOf(enc.subarray(0, n)), "ok", `cut ${n}`);
});
Cp.run();
