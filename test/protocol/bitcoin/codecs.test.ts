import {suite} from "uvu";
import * as assert from "uvu/assert";
import {bytesToHex, hexToBytes} from "@noble/hashes/utils.js";
import {addDescriptorChecksum, checkDescriptorChecksum, descriptorChecksum} from "../../../protocol/bitcoin/descriptor-checksum.ts";
import {BitcoinCodecError, BitcoinCodecErrorCode} from "../../../protocol/bitcoin/errors.ts";
import {displayHexToHash, hashToDisplayHex} from "../../../protocol/bitcoin/hash.ts";
import {bitsToTarget, blockHeaderHash, checkProofOfWork, decodeBlockHeader, encodeBlockHeader} from "../../../protocol/bitcoin/header.ts";
import {bitcoinMerkleRoot} from "../../../protocol/bitcoin/merkle.ts";
import {decodeSegwitAddress, encodeSegwitAddress} from "../../../protocol/bitcoin/segwit-address.ts";

// Bitcoin mainnet genesis header (a well-known golden vector).
const MAINNET_GENESIS =
  "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";

const header = suite("protocol/bitcoin/header codec");

header("should decode, re-encode and hash :: mainnet genesis golden vector", () => {
  const bytes = hexToBytes(MAINNET_GENESIS);
  const h = decodeBlockHeader(bytes);
  assert.is(h.version, 1);
  assert.is(h.time, 1231006505);
  assert.is(h.bits, 0x1d00ffff);
  assert.is(h.nonce, 2083236893);
  assert.is(hashToDisplayHex(h.merkleRoot), "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");
  assert.is(bytesToHex(encodeBlockHeader(h)), MAINNET_GENESIS);
  assert.is(hashToDisplayHex(blockHeaderHash(bytes)), "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
  assert.ok(checkProofOfWork(bytes));
});

header("should reject wrong lengths :: 79 and 81 bytes", () => {
  for (const n of [79, 81]) {
    try {
      decodeBlockHeader(new Uint8Array(n));
      assert.unreachable();
    } catch (e) {
      assert.instance(e, BitcoinCodecError);
      assert.is((e as BitcoinCodecError).code, BitcoinCodecErrorCode.HEADER_LENGTH);
    }
  }
});

header("should expand compact targets :: regtest and mainnet limits", () => {
  assert.is(bitsToTarget(0x1d00ffff), 0xffffn << 208n);
  assert.is(bitsToTarget(0x207fffff), 0x7fffffn << 232n);
  assert.is(bitsToTarget(0x04923456), 0n, "negative");
  const bad = hexToBytes(MAINNET_GENESIS);
  bad[79] = 0;
  assert.not.ok(checkProofOfWork(bad), "changed nonce breaks the work");
});

header.run();

// ---

const merkle = suite("protocol/bitcoin/merkle bitcoinMerkleRoot");

merkle("should duplicate the odd node :: 1, 2 and 3 leaves", () => {
  const a = new Uint8Array(32).fill(1);
  const b = new Uint8Array(32).fill(2);
  const c = new Uint8Array(32).fill(3);
  assert.is(bitcoinMerkleRoot([]), null);
  assert.equal(bitcoinMerkleRoot([a]), a);
  const ab = bitcoinMerkleRoot([a, b]) as Uint8Array;
  const cc = bitcoinMerkleRoot([c, c]) as Uint8Array;
  assert.equal(bitcoinMerkleRoot([a, b, c]), bitcoinMerkleRoot([ab, cc]));
  assert.not.equal(bitcoinMerkleRoot([a, b, c]), bitcoinMerkleRoot([ab, c]));
});

merkle.run();

// ---

const checksum = suite("protocol/bitcoin/descriptor-checksum");

checksum("should compute BIP 380 checksums :: published vectors", () => {
  assert.is(descriptorChecksum("raw(deadbeef)"), "89f8spxm");
  assert.is(
    descriptorChecksum("wpkh([34a102c3/84h/0h/0h]xpub6CFJPLavEUpbmhSsihixZ3BLuWiALj1tyt59kW8mNV44j5VYjXU9S9AzAFcqwvZXZhemHFbFhzviF7rgvhcT3sBWEDZE9g2i7rDb3LjjeES/<0;1>/*)"),
    "lh26753l",
  );
  assert.is(addDescriptorChecksum("raw(deadbeef)"), "raw(deadbeef)#89f8spxm");
  assert.is(checkDescriptorChecksum("raw(deadbeef)#89f8spxm"), "raw(deadbeef)");
});

checksum("should refuse missing or wrong checksums :: like importdescriptors", () => {
  for (const d of ["raw(deadbeef)", "raw(deadbeef)#89f8spxn", "raw(deadbeef)#"]) {
    try {
      checkDescriptorChecksum(d);
      assert.unreachable(d);
    } catch (e) {
      assert.is((e as BitcoinCodecError).code, BitcoinCodecErrorCode.DESCRIPTOR_CHECKSUM, d);
    }
  }
});

checksum.run();

// ---

const address = suite("protocol/bitcoin/segwit-address");

address("should round trip BIP173/BIP350 vectors :: v0 and v1", () => {
  const v0 = decodeSegwitAddress("bc", "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4");
  assert.is(v0.version, 0);
  assert.is(bytesToHex(v0.program), "751e76e8199196d454941c45d1b3a323f1433bd6");
  assert.is(encodeSegwitAddress("bc", 0, v0.program), "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
  const v1 = decodeSegwitAddress("bc", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0");
  assert.is(v1.version, 1);
  assert.is(bytesToHex(v1.program), "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
  assert.is(encodeSegwitAddress("bc", 1, v1.program), "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0");
});

address("should reject bad addresses :: wrong variant, checksum, prefix", () => {
  const bad = [
    ["bc", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd"], // v1 with bech32 checksum
    ["bc", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"],
    ["tb", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"],
  ] as const;
  for (const [hrp, a] of bad) assert.throws(() => decodeSegwitAddress(hrp, a), a);
});

address("should convert display hex :: reversed byte order", () => {
  const h = displayHexToHash("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
  assert.is(h[0], 0x6f);
  assert.is(hashToDisplayHex(h), "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
});

address.run();
