import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {bytesEqual, toHex} from "../../../protocol/ots/bytes.ts";
import type {CalendarNode} from "../../../node/node.ts";
import {withTimeout} from "../../support/timeout.ts";
import {getTimestamp, postDigest, proofLeaf} from "../calendar/support.ts";
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
      void toHex;
    } finally {
      await stopAll(nodes, members);
    }
  }),
);

test.run();
