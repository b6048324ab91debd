/**
 * Mutated gossip messages and catch-up replies through the validators and
 * a real mirror's import path: no crash, no error but typed ones, and
 * nothing accepted unless it is byte for byte the genuine message. Seeded,
 * so a failure repeats.
 */
import {suite} from "uvu";
import {mkdir} from "node:fs/promises";
import * as assert from "uvu/assert";
import {decodeWireMessage, encodeHead, encodePiece, MAX_REPLY_MESSAGE_BYTES, WireKind} from "../../../protocol/federation/wire.ts";
import type {JournalPiece} from "../../../protocol/federation/wire.ts";
import {genesisChainHash, nextChainHash} from "../../../protocol/journal/chain.ts";
import {checkpointSigningBytes} from "../../../protocol/journal/checkpoint.ts";
import {frameSize, RecordKind, writeFrame} from "../../../protocol/journal/record.ts";
import {encodeRound} from "../../../protocol/journal/round.ts";
import {bytesEqual} from "../../../protocol/ots/bytes.ts";
import {CalendarError} from "../../../protocol/errors.ts";
import {systemClock} from "../../../node/clock.ts";
import {EvidenceStore} from "../../../node/federation/evidence.ts";
import {validateHeadMessage, validateRecordsMessage} from "../../../node/federation/gossip-validation.ts";
import {MirrorFollower, PeerMisbehaved} from "../../../node/federation/mirror-follower.ts";
import {Roster} from "../../../node/federation/roster.ts";
import {nativeSha256} from "../../../node/hash.ts";
import {loadOrCreateIdentity} from "../../../node/identity.ts";
import type {Identity} from "../../../node/identity.ts";
import {nullLogger} from "../../../node/logger.ts";
import {Rng} from "../../support/rng.ts";
import {withTimeout} from "../../support/timeout.ts";
import {openRegistry, removeDir, tempDir} from "../calendar/support.ts";

function mutate(rng: Rng, msg: Uint8Array): Uint8Array {
  switch (rng.int(6)) {
    case 0: {
      const out = msg.slice();
      for (let k = 1 + rng.int(3); k > 0; k--) out[rng.int(out.length)] = (out[rng.int(out.length)] as number) ^ (1 << rng.int(8));
      return out;
    }
    case 1:
      return msg.slice(0, rng.int(msg.length));
    case 2: {
      const out = new Uint8Array(msg.length + 1 + rng.int(40));
      out.set(msg);
      out.set(rng.bytes(out.length - msg.length), msg.length);
      return out;
    }
    case 3: {
      const out = msg.slice();
      out[rng.int(out.length)] = rng.pick([0x00, 0x7f, 0x80, 0xff]);
      return out;
    }
    case 4: {
      // Swap two runs (fields moved around).
      const out = msg.slice();
      const a = rng.int(out.length);
      const b = rng.int(out.length);
      const n = Math.min(1 + rng.int(33), out.length - Math.max(a, b));
      const tmp = out.slice(a, a + n);
      out.copyWithin(a, b, b + n);
      out.set(tmp, b);
      return out;
    }
    default:
      return rng.bytes(rng.int(msg.length + 16));
  }
}

async function genuine(identity: Identity, n: number): Promise<{piece: JournalPiece; frames: Uint8Array}> {
  const payloads = Array.from({length: n}, (_, i) => encodeRound({timeMs: 1_700_000_000_000 + i, leaves: 1 + i, root: nativeSha256(new Uint8Array([i]))}));
  const frames = new Uint8Array(payloads.reduce((a, p) => a + frameSize(RecordKind.ROUND, p.length), 0));
  const genesis = genesisChainHash(identity.calendarId, nativeSha256);
  let chain = genesis;
  let pos = 0;
  for (const p of payloads) {
    const start = pos;
    pos = writeFrame(frames, pos, RecordKind.ROUND, p);
    chain = nextChainHash(chain, frames.subarray(start, pos - 4), nativeSha256);
  }
  const body = {calendarId: identity.calendarId, length: n, chainHash: chain};
  const head = {...body, signature: await identity.sign(checkpointSigningBytes(body))};
  return {piece: {fromSeq: 0, prevChain: genesis, frames, head}, frames};
}

const test = suite("federation: fuzzing the validators and the catch-up import");

test(
  "110,000 mutated gossip messages and catch-up replies: nothing invalid accepted, only typed errors",
  withTimeout(120_000, async () => {
    const dir = await tempDir();
    await mkdir(`${dir}/origin`);
    let generation = 0;
    const openMirror = async () => {
      const d = `${dir}/mirror${generation++}`;
      await mkdir(d);
      return openRegistry(d);
    };
    let reg = await openMirror();
    try {
      const {identity} = await loadOrCreateIdentity(`${dir}/origin`);
      const roster = new Roster({version: 1, name: "fuzz", members: [{calendarId: identity.peerId, url: "https://a.example.net", p2p: ["/ip4/127.0.0.1/tcp/1"], rank: 0}]});
      const {piece} = await genuine(identity, 5);
      const records = encodePiece(piece);
      const head = encodeHead(piece.head);
      const rng = new Rng(0x0f5fed);
      let accepted = 0;
      for (let i = 0; i < 70_000; i++) {
        const m = mutate(rng, records);
        const v = await validateRecordsMessage(roster, identity.peerId, m);
        if (v.ok) {
          assert.ok(bytesEqual(m, records), `mutation ${i} accepted`);
          accepted++;
        }
      }
      for (let i = 0; i < 20_000; i++) {
        const m = mutate(rng, head);
        const v = await validateHeadMessage(roster, identity.peerId, m);
        if (v.ok) assert.ok(bytesEqual(m, head), `head mutation ${i} accepted`);
      }
      // The genuine ones pass (the harness is not refusing everything).
      assert.ok((await validateRecordsMessage(roster, identity.peerId, records)).ok);
      assert.ok((await validateHeadMessage(roster, identity.peerId, head)).ok);

      // Catch-up replies: decoded with the reply limits, then offered to a real mirror, which must only ever hold the genuine records.
      let mirror = await reg.addMirror(identity.calendarId);
      let follower = new MirrorFollower(mirror, {logger: nullLogger, clock: systemClock, evidence: new EvidenceStore(dir), onFork: () => {}});
      const reply = encodePiece({...piece, prevChain: null});
      let offered = 0;
      for (let i = 0; i < 20_000; i++) {
        const m = mutate(rng, reply);
        let decoded;
        try {
          decoded = decodeWireMessage(m, MAX_REPLY_MESSAGE_BYTES, [WireKind.PIECE, WireKind.END]);
        } catch (e) {
          assert.ok(e instanceof CalendarError, `reply mutation ${i}: ${(e as Error).message}`);
          continue;
        }
        if (decoded.kind !== WireKind.PIECE) continue;
        offered++;
        try {
          const r = await follower.offerFetched(decoded.piece, "fuzzer");
          if (r === "imported") {
            assert.ok(bytesEqual(decoded.piece.frames, piece.frames) && decoded.piece.head.length === 5 && bytesEqual(decoded.piece.head.chainHash, piece.head.chainHash), `reply mutation ${i} imported`);
            // The genuine records (a mutation the format ignores, e.g. of nothing that is signed or hashed): start over on a fresh mirror.
            follower.close();
            await reg.close();
            reg = await openMirror();
            mirror = await reg.addMirror(identity.calendarId);
            follower = new MirrorFollower(mirror, {logger: nullLogger, clock: systemClock, evidence: new EvidenceStore(dir), onFork: () => {}});
            continue;
          }
        } catch (e) {
          assert.ok(e instanceof PeerMisbehaved, `reply mutation ${i}: ${(e as Error).message}`);
        }
        assert.is(mirror.length, 0, "nothing written");
      }
      assert.ok(offered > 500, `${offered} decodable replies reached the import path`);
      follower.close();
      void accepted;
    } finally {
      await reg.close();
      await removeDir(dir);
    }
  }),
);

test.run();
