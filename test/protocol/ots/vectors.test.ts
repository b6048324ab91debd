import {suite} from "uvu";
import * as assert from "uvu/assert";
import {readFileSync} from "node:fs";
import {
  attestationTag, decodeDetached, encodeDetached, formatDetachedInfo, listAttestations, maxPathLength,
  OtsError, OtsErrorCode, toDisplayHex, toHex,
} from "../../../protocol/ots/index.ts";
import {allOtsVectors, readSummary, readVector, vectorPath} from "../../support/vectors.ts";

const summary = new Map(readSummary().map((e) => [e.file, e]));

/**
 * The reference re-serializes every valid vector to its own bytes except this
 * one: the JS library wrote its ops in insertion order, and the canonical
 * writer sorts them (checked with python3-opentimestamps).
 */
const NOT_CANONICAL = new Set(["javascript-opentimestamps/examples/ripemd160/README.md.ots"]);

const INVALID: Record<string, OtsErrorCode> = {
  "opentimestamps-client/examples/invalid/bad-major-version.ots": OtsErrorCode.UNSUPPORTED_VERSION,
  "opentimestamps-client/examples/invalid/exceeds-max-msg-length.ots": OtsErrorCode.RESULT_TOO_LONG,
  "opentimestamps-client/examples/invalid/invalid-file-digest-type.ots": OtsErrorCode.BAD_FILE_HASH_OP,
};

const SUMMARY_TYPE: Record<string, string> = {
  bitcoin: "BitcoinBlockHeaderAttestation",
  litecoin: "LitecoinBlockHeaderAttestation",
  ethereum: "EthereumBlockHeaderAttestation",
  pending: "PendingAttestation",
  unknown: "UnknownAttestation",
};

// ---

const decode = suite("protocol/ots decodeDetached :: shared vectors");

decode("should find every vector listed in the summary", () => {
  const files = allOtsVectors();
  assert.ok(files.length >= 22, `found ${files.length} vectors`);
  for (const f of files) assert.ok(summary.has(f), `${f} is in summary.json`);
});

for (const file of allOtsVectors()) {
  const expected = summary.get(file);
  if (INVALID[file] !== undefined) {
    decode(`should reject with ${INVALID[file]} :: ${file}`, () => {
      assert.ok(expected?.parse_error, "the reference rejects it too");
      try {
        decodeDetached(readVector(file));
        assert.unreachable("decoded an invalid file");
      } catch (e) {
        assert.instance(e, OtsError);
        assert.is((e as OtsError).code, INVALID[file]);
      }
    });
    continue;
  }
  decode(`should parse and match the reference summary :: ${file}`, () => {
    assert.ok(expected && !expected.parse_error, "the reference accepts it");
    const f = decodeDetached(readVector(file));
    assert.is(f.fileHashOp, expected.file_hash_op);
    assert.is(toHex(f.timestamp.msg), expected.file_digest);
    assert.is(maxPathLength(f.timestamp), expected.max_ops_on_a_path);
    const ours = listAttestations(f.timestamp).map(({msg, attestation: a}) => {
      const o: Record<string, string | number> = {type: SUMMARY_TYPE[a.kind] as string, msg_hex: toHex(msg)};
      if ("height" in a) o.height = a.height;
      if (a.kind === "pending") o.uri = a.uri;
      if (a.kind === "unknown") {
        o.tag_hex = toHex(attestationTag(a));
        o.payload_hex = toHex(a.payload);
      }
      if (a.kind === "bitcoin") o.merkleroot_display_hex = toDisplayHex(msg);
      return JSON.stringify(Object.fromEntries(Object.entries(o).sort()));
    });
    const theirs = (expected.attestations ?? []).map((a) => JSON.stringify(Object.fromEntries(Object.entries(a).sort())));
    assert.equal(ours.sort(), theirs.sort());
  });
  decode(`should re-serialize as the reference does :: ${file}`, () => {
    const bytes = readVector(file);
    const again = encodeDetached(decodeDetached(bytes));
    if (NOT_CANONICAL.has(file)) {
      assert.is.not(toHex(again), toHex(bytes));
      // Canonical output is a fixed point.
      assert.is(toHex(encodeDetached(decodeDetached(again))), toHex(again));
    } else {
      assert.is(toHex(again), toHex(bytes));
    }
  });
  decode(`should print the tree as ots info does :: ${file}`, () => {
    const expectedInfo = readFileSync(vectorPath(`expected/info/${file.replaceAll("/", "_")}.info.txt`), "utf8");
    assert.fixture(formatDetachedInfo(decodeDetached(readVector(file))).trimEnd(), expectedInfo.trimEnd());
  });
}

decode.run();
