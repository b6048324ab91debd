/**
 * Runs Debian's python3-opentimestamps (the reference implementation) on our
 * bytes. It lives in /usr/bin/python3's dist-packages; `.ci/run` installs it.
 */
import {spawn} from "node:child_process";

export const REFERENCE_PYTHON = "/usr/bin/python3";

const SCRIPT = `
import sys, json
from opentimestamps.core.timestamp import DetachedTimestampFile
from opentimestamps.core.serialize import BytesDeserializationContext, BytesSerializationContext
out = []
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        d = DetachedTimestampFile.deserialize(BytesDeserializationContext(bytes.fromhex(line)))
        c = BytesSerializationContext()
        d.serialize(c)
        out.append({"ok": c.getbytes().hex()})
    except Exception as e:
        out.append({"error": type(e).__name__ + ": " + str(e)})
json.dump(out, sys.stdout)
`;

export type ReferenceResult = {ok: string} | {error: string};

/** Run a reference script that reads hex lines on stdin and prints one JSON value. */
function runReference<T>(script: string, lines: readonly string[], signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(REFERENCE_PYTHON, ["-c", script], {stdio: ["pipe", "pipe", "pipe"], ...(signal ? {signal} : {})});
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`reference python exited ${code}: ${err.slice(0, 2000)}`));
      try {
        resolve(JSON.parse(out) as T);
      } catch (e) {
        reject(e as Error);
      }
    });
    for (const line of lines) child.stdin.write(`${line}\n`);
    child.stdin.end();
  });
}

/** Parse each detached file with the reference and re-serialize it; one result per input, in order. */
export function referenceRoundTrip(files: readonly Uint8Array[], signal?: AbortSignal): Promise<ReferenceResult[]> {
  return runReference(SCRIPT, files.map((f) => Buffer.from(f).toString("hex")), signal);
}

const ATTESTED_SCRIPT = `
import sys, json
from opentimestamps.core.timestamp import Timestamp
from opentimestamps.core.notary import BitcoinBlockHeaderAttestation
from opentimestamps.core.serialize import BytesDeserializationContext, BytesSerializationContext
out = []
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    msg_hex, body_hex = line.split(" ")
    try:
        ctx = BytesDeserializationContext(bytes.fromhex(body_hex))
        ts = Timestamp.deserialize(ctx, bytes.fromhex(msg_hex))
        ctx.assert_eof()
        c = BytesSerializationContext()
        ts.serialize(c)
        atts = []
        for m, a in ts.all_attestations():
            atts.append({"msg": m.hex(), "bitcoinHeight": a.height if isinstance(a, BitcoinBlockHeaderAttestation) else None})
        out.append({"ok": {"reserialized": c.getbytes().hex(), "attestations": atts}})
    except Exception as e:
        out.append({"error": type(e).__name__ + ": " + str(e)})
json.dump(out, sys.stdout)
`;

/** What the reference makes of a header-less timestamp: its re-serialization and each attestation with the message it attests. */
export type ReferenceAttested = {ok: {reserialized: string; attestations: Array<{msg: string; bitcoinHeight: number | null}>}} | {error: string};

/**
 * Deserialize each header-less timestamp `body` rooted at `msg` with the
 * reference (which evaluates every op on the way), and list its attestations
 * with the messages they attest; one result per input, in order.
 */
export function referenceAttestedMessages(items: ReadonlyArray<{msg: Uint8Array; body: Uint8Array}>, signal?: AbortSignal): Promise<ReferenceAttested[]> {
  return runReference(ATTESTED_SCRIPT, items.map(({msg, body}) => `${Buffer.from(msg).toString("hex")} ${Buffer.from(body).toString("hex")}`), signal);
}
