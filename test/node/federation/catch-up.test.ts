import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {bytesEqual} from "../../../protocol/ots/bytes.ts";
import {roundCommitment} from "../../../protocol/journal/commitment.ts";
import {verifyJournals} from "../../../node/calendar/verify.ts";
import type {CalendarNode} from "../../../node/node.ts";
import {withTimeout} from "../../support/timeout.ts";
import {getTimestamp} from "../calendar/support.ts";
import {planFederation, startMember, stopAll, waitFor} from "./support.ts";
import type {TestMember} from "./support.ts";

const test = suite("federation: catch-up");

/** Write `n` rounds at `node` straight through its calendar (each durable, gossiped like any round). */
async function writeRounds(node: CalendarNode, n: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const pending: Array<Promise<{seq: number; commitment: Uint8Array}>> = [];
  for (let i = 0; i < n; i++) pending.push(node.calendar.commitRound(randomBytes(32), 1, Date.now()));
  for (const p of pending) out.push((await p).commitment);
  return out;
}

async function assertSameAs(origin: CalendarNode, mirrorNode: CalendarNode): Promise<void> {
  const mirror = mirrorNode.calendars.get(origin.calendar.id);
  assert.ok(mirror, "mirror exists");
  assert.is(mirror!.length, origin.calendar.length);
  assert.ok(bytesEqual(mirror!.store.chainHash, origin.calendar.store.chainHash), "same chain hash");
}

async function assertVerifies(m: TestMember): Promise<void> {
  const reports = await verifyJournals(m.dataDir);
  assert.is(reports.length, 3, "own journal and two mirrors");
  for (const r of reports) assert.equal(r.problems, [], `journal verify ${r.journalDir}`);
}

test(
  "C down while A and B write 10,000 rounds catches up on restart — again with A offline, from B only",
  withTimeout(240_000, async (signal) => {
    const {def, members} = await planFederation(3, "catchup", (o) => {
      o.journal.segmentBytes = 256 * 1024;
    });
    const [ma, mb, mc] = members as [TestMember, TestMember, TestMember];
    let a: CalendarNode | null = null;
    let b: CalendarNode | null = null;
    let c: CalendarNode | null = null;
    try {
      a = await startMember(ma, def);
      b = await startMember(mb, def);
      c = await startMember(mc, def);
      await c.stop();
      const fromA = await writeRounds(a, 5_000);
      const fromB = await writeRounds(b, 5_000);
      const aa = a;
      const bb = b;
      await waitFor("B mirrors A", () => bb.calendars.get(aa.calendar.id)?.length === aa.calendar.length, signal, 50);
      await waitFor("A mirrors B", () => aa.calendars.get(bb.calendar.id)?.length === bb.calendar.length, signal, 50);
      // C returns with everyone online.
      c = await startMember(mc, def);
      const cc = c;
      await waitFor("C catches up A", () => cc.calendars.get(aa.calendar.id)?.length === aa.calendar.length, signal, 50);
      await waitFor("C catches up B", () => cc.calendars.get(bb.calendar.id)?.length === bb.calendar.length, signal, 50);
      await assertSameAs(a, c);
      await assertSameAs(b, c);
      assert.ok(c.federation!.counters.fetchedPieces > 0, "caught up over the journal protocol");

      // C down again; A writes more, B mirrors it, A goes away: C must get A's records from B alone.
      await c.stop();
      await writeRounds(a, 2_000);
      await waitFor("B mirrors A", () => bb.calendars.get(aa.calendar.id)?.length === aa.calendar.length, signal, 50);
      const aLength = a.calendar.length;
      const aChain = a.calendar.store.chainHash;
      const aId = a.calendar.id;
      await a.stop();
      a = null;
      c = await startMember(mc, def);
      const c2 = c;
      await waitFor("C catches up A from B", () => c2.calendars.get(aId)?.length === aLength, signal, 50);
      assert.ok(bytesEqual(c.calendars.get(aId)!.store.chainHash, aChain));
      // C answers A's commitments with A offline, as B does.
      for (const msg of [fromA[0]!, fromA[4_999]!, fromB[123]!]) {
        const atB = await getTimestamp(mb.url, msg, signal);
        const atC = await getTimestamp(mc.url, msg, signal);
        assert.is(atC.status, 404);
        assert.is(atC.text, "Pending confirmation in Bitcoin blockchain");
        assert.is(atC.text, atB.text);
      }
      const unknown = roundCommitment(randomBytes(32), c.calendars.get(aId)!.tag, aLength + 10);
      assert.is((await getTimestamp(mc.url, unknown, signal)).text, "Not found");
      await c.stop();
      c = null;
      await b.stop();
      b = null;
      for (const m of [mb, mc]) await assertVerifies(m);
    } finally {
      await stopAll([a, b, c], members);
    }
  }),
);

test.run();
