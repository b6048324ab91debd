import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {bytesEqual} from "../../../protocol/ots/bytes.ts";
import type {CalendarNode} from "../../../node/node.ts";
import {withTimeout} from "../../support/timeout.ts";
import {getTimestamp, openRegistry, postDigest, proofLeaf, removeDir, tempDir} from "../calendar/support.ts";
import {decodeCheckpoint} from "../../../protocol/journal/checkpoint.ts";
import {decodeWireMessage, MAX_REPLY_MESSAGE_BYTES, WireKind} from "../../../protocol/federation/wire.ts";
import {planFederation, startMember, stopAll, waitFor} from "./support.ts";

const test = suite("federation: replication over libp2p");

test(
  "records written at A appear at B and C, which answer A's commitments exactly as A does",
  withTimeout(60_000, async (signal) => {
    const {def, members} = await planFederation(3);
    const nodes: CalendarNode[] = [];
    try {
      for (const m of members) nodes.push(await startMember(m, def));
      const [a, b, c] = nodes as [CalendarNode, CalendarNode, CalendarNode];
      await waitFor("full mesh", () => nodes.every((n) => n.federation!.report().members.every((x) => x.connected)), signal);
      const commitments: Uint8Array[] = [];
      for (let i = 0; i < 20; i++) {
        const digest = randomBytes(32);
        const r = await postDigest(members[0]!.url, digest, signal);
        assert.is(r.status, 200);
        commitments.push(proofLeaf(r.body, digest).msg);
      }
      const len = a.calendar.length;
      for (const n of [b, c]) await waitFor("mirror of A", () => (n.calendars.get(a.calendar.id)?.length ?? 0) === len, signal);
      for (const msg of commitments) {
        const at = await getTimestamp(members[0]!.url, msg, signal);
        for (const m of members.slice(1)) {
          const there = await getTimestamp(m.url, msg, signal);
          assert.is(there.status, at.status);
          assert.is(there.text, at.text);
        }
      }
      const mirror = b.calendars.get(a.calendar.id)!;
      assert.ok(bytesEqual(mirror.store.chainHash, a.calendar.store.chainHash), "same chain hash");
      const st = b.federation!.report();
      const ma = st.mirrors.find((x) => x.calendar === a.identity.peerId)!;
      assert.is(ma.lagRecords, 0);
      assert.is(ma.length, len);
      // The operator's view: status JSON and metrics.
      const status = (await (await fetch(`${members[1]!.url}/`, {headers: {Accept: "application/json"}})).json()) as {federation: {name: string; members: Array<{peer_id: string; connected: boolean}>; mirrors: Array<{calendar: string; length: number; lag_records: number}>}};
      assert.is(status.federation.name, "test");
      assert.is(status.federation.members.length, 3);
      assert.ok(status.federation.members.every((x) => x.connected));
      assert.equal(status.federation.mirrors.find((x) => x.calendar === a.identity.peerId), {...status.federation.mirrors.find((x) => x.calendar === a.identity.peerId)!, length: len, lag_records: 0});
      const metrics = await (await fetch(`${members[1]!.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`calendar_federation_mirror_records\\{calendar="${a.identity.peerId}"\\} ${len}`));
      assert.match(metrics, /calendar_federation_members_connected 2/);

      // A's journal over plain HTTP from B: the head and the records, which a fresh mirror imports as they are.
      const head = new Uint8Array(await (await fetch(`${members[1]!.url}/journal/${a.identity.peerId}/head`)).arrayBuffer());
      assert.equal(decodeCheckpoint(head).length, len);
      const dir = await tempDir();
      const reg = await openRegistry(dir);
      try {
        const copy = await reg.addMirror(a.calendar.id);
        while (copy.length < len) {
          const r = await fetch(`${members[1]!.url}/journal/${a.identity.peerId}/records?from=${copy.length}`);
          assert.is(r.status, 200);
          const msg = decodeWireMessage(new Uint8Array(await r.arrayBuffer()), MAX_REPLY_MESSAGE_BYTES, [WireKind.PIECE]);
          assert.is(msg.kind, WireKind.PIECE);
          if (msg.kind === WireKind.PIECE) await copy.importBatch(msg.piece.frames, msg.piece.head);
        }
        assert.ok(bytesEqual(copy.store.chainHash, a.calendar.store.chainHash));
        assert.is((await fetch(`${members[1]!.url}/journal/${a.identity.peerId}/records?from=${len}`)).status, 404);
        assert.is((await fetch(`${members[1]!.url}/journal/${a.identity.peerId}/records?from=x`)).status, 400);
        assert.is((await fetch(`${members[1]!.url}/journal/12D3KooWGzh8hZ9eS5ufkUhczfE3hgjFJ5BvFuf6Mw9Wd2bYLyUa/head`)).status, 404);
      } finally {
        await reg.close();
        await removeDir(dir);
      }
    } finally {
      await stopAll(nodes, members);
    }
  }),
);

test.run();
