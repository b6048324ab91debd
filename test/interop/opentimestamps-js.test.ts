/**
 * Interop with real clients: the npm `opentimestamps` library (PROTOCOL-NOTES
 * §7) stamps files against a running node over HTTP; the .ots files it
 * writes must parse with our library and with Debian's python3-opentimestamps,
 * and every Pending leaf must be a commitment the node reports pending.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {execFile} from "node:child_process";
import {createHash, randomBytes} from "node:crypto";
import {writeFile} from "node:fs/promises";
import {createRequire} from "node:module";
import {join} from "node:path";
import {promisify} from "node:util";
import {toHex} from "../../protocol/ots/bytes.ts";
import {decodeDetached} from "../../protocol/ots/detached.ts";
import type {Timestamp} from "../../protocol/ots/timestamp.ts";
import {withTimeout} from "../support/timeout.ts";
import {getTimestamp, removeDir, startNode, tempDir, testOptions} from "../node/calendar/support.ts";

/** The slice of the CommonJS library's API these tests use. */
type OtsJs = {
  Ops: {OpSHA256: new () => unknown};
  DetachedTimestampFile: {fromBytes(op: unknown, bytes: Uint8Array): {serializeToBytes(): Uint8Array}};
  stamp(files: unknown, options: {calendars: string[]; m: number}): Promise<void>;
  upgrade(file: unknown, options: {calendars: string[]}): Promise<boolean>;
};
const OTS = createRequire(import.meta.url)("opentimestamps") as OtsJs;

const PYTHON = `
import sys
from opentimestamps.core.serialize import StreamDeserializationContext
from opentimestamps.core.timestamp import DetachedTimestampFile
from opentimestamps.core.notary import PendingAttestation
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        d = DetachedTimestampFile.deserialize(StreamDeserializationContext(f))
    for msg, att in d.timestamp.all_attestations():
        assert isinstance(att, PendingAttestation), att
        print(path, d.file_digest.hex(), msg.hex(), att.uri)
`;

function pendingLeaves(ts: Timestamp): Array<{msg: string; uri: string}> {
  const out: Array<{msg: string; uri: string}> = [];
  const walk = (t: Timestamp): void => {
    for (const a of t.attestations) if (a.kind === "pending") out.push({msg: toHex(t.msg), uri: a.uri});
    for (const [, child] of t.ops) walk(child);
  };
  walk(ts);
  return out;
}

// ---
const Interop = suite("test/interop opentimestamps (npm) and python3-opentimestamps against a running node");

Interop("should stamp with the JS library and parse the .ots files with ours and python's :: 3 files, one at a time and a batch", withTimeout(60_000, async () => {
  const dir = await tempDir();
  try {
    const {node, url} = await startNode(testOptions(join(dir, "data")));
    try {
      const contents = [randomBytes(100), randomBytes(5000), Buffer.from("hello otsfed\n")];
      const files = contents.map((c) => OTS.DetachedTimestampFile.fromBytes(new OTS.Ops.OpSHA256(), new Uint8Array(c)));
      await OTS.stamp(files[0], {calendars: [url], m: 1});
      await OTS.stamp([files[1], files[2]], {calendars: [url], m: 1});
      const paths: string[] = [];
      const ours = new Map<string, {digest: string; leaves: Array<{msg: string; uri: string}>}>();
      for (const [i, f] of files.entries()) {
        const bytes = f.serializeToBytes();
        const path = join(dir, `file${i}.ots`);
        await writeFile(path, bytes);
        paths.push(path);
        const parsed = decodeDetached(new Uint8Array(bytes));
        assert.is(parsed.fileHashOp, "sha256");
        assert.is(toHex(parsed.timestamp.msg), createHash("sha256").update(contents[i] as Buffer).digest("hex"));
        const leaves = pendingLeaves(parsed.timestamp);
        assert.is(leaves.length, 1, `file ${i}: one calendar, one Pending leaf`);
        assert.is(leaves[0]?.uri, url);
        assert.is(leaves[0]?.msg.length, 88, "44-byte commitment");
        const g = await getTimestamp(url, Buffer.from(leaves[0]?.msg as string, "hex"));
        assert.is(g.text, "Pending confirmation in Bitcoin blockchain", `file ${i}`);
        ours.set(path, {digest: toHex(parsed.timestamp.msg), leaves});
      }

      const {stdout} = await promisify(execFile)("/usr/bin/python3", ["-c", PYTHON, ...paths]);
      const lines = stdout.trim().split("\n");
      assert.is(lines.length, 3, stdout);
      for (const line of lines) {
        const [path, digest, msg, uri] = line.split(" ");
        const o = ours.get(path as string);
        assert.ok(o, line);
        assert.is(digest, o.digest, "python reads the same file digest");
        assert.is(msg, o.leaves[0]?.msg, "python reaches the same commitment");
        assert.is(uri, url);
      }

      // The JS client's upgrade sees the pending 404 and changes nothing.
      const changed = await OTS.upgrade(files[0], {calendars: [url]});
      assert.is(changed, false);
    } finally {
      await node.stop();
    }
  } finally {
    await removeDir(dir);
  }
}));

Interop.run();
