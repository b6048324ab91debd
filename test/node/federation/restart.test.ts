import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {bytesEqual} from "../../../protocol/ots/bytes.ts";
import {verifyJournals} from "../../../node/calendar/verify.ts";
import type {CalendarNode} from "../../../node/node.ts";
import {sleep} from "../../../node/lifecycle.ts";
import {withTimeout} from "../../support/timeout.ts";
import {planFederation, startMember, stopAll, waitFor} from "./support.ts";

const test = suite("federation: every node restarted mid-replication");

test(
  "no record lost or duplicated, and journal verify passes on every mirror",
  withTimeout(180_000, async (signal) => {
    const {def, members} = await planFederation(3, "restart", (o) => {
      o.journal.segmentBytes = 16 * 1024;
    });
    const nodes: Array<CalendarNode | null> = [];
    let writing = true;
    const writers: Promise<void>[] = [];
    try {
      for (const m of members) nodes.push(await startMember(m, def));
      // Every member writes rounds all along; a stopped member's writer waits for it.
      for (let i = 0; i < nodes.length; i++) {
        writers.push(
          (async () => {
            while (writing) {
              const n = nodes[i];
              if (n?.status === "started") await n.calendar.commitRound(randomBytes(32), 1, Date.now()).catch(() => {});
              else await sleep(5);
            }
          })(),
        );
      }
      for (let i = 0; i < nodes.length; i++) {
        await sleep(400);
        await nodes[i]!.stop();
        await sleep(300);
        nodes[i] = await startMember(members[i]!, def);
      }
      await sleep(400);
      writing = false;
      await Promise.all(writers);
      const live = nodes as CalendarNode[];
      for (const origin of live) {
        for (const other of live) {
          if (other === origin) continue;
          await waitFor(`mirror of ${origin.identity.peerId} at ${other.identity.peerId}`, () => other.calendars.get(origin.calendar.id)?.length === origin.calendar.length, signal, 50);
          assert.ok(bytesEqual(other.calendars.get(origin.calendar.id)!.store.chainHash, origin.calendar.store.chainHash), "same records, none lost, none twice");
        }
        assert.ok(origin.calendar.length > 50, `origin wrote ${origin.calendar.length} records`);
      }
      for (let i = 0; i < nodes.length; i++) {
        await nodes[i]!.stop();
        nodes[i] = null;
      }
      for (const m of members) {
        const reports = await verifyJournals(m.dataDir);
        assert.is(reports.length, 3);
        for (const r of reports) {
          assert.equal(r.problems, [], r.journalDir);
          assert.ok(r.checkpointsVerified > 0, `${r.journalDir}: signed checkpoints verified`);
        }
      }
    } finally {
      writing = false;
      await Promise.all(writers);
      await stopAll(nodes, members);
    }
  }),
);

test.run();
