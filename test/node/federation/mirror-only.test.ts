import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {bytesEqual} from "../../../protocol/ots/bytes.ts";
import type {CalendarNode} from "../../../node/node.ts";
import {withTimeout} from "../../support/timeout.ts";
import {getTimestamp, postDigest, proofLeaf} from "../calendar/support.ts";
import {freePort, planFederation, startMember, stopAll, waitFor} from "./support.ts";

const test = suite("federation: a mirror-only node (not a member)");

test(
  "follows every member live, answers for all of them, takes no digests and publishes nothing",
  withTimeout(60_000, async (signal) => {
    const {def, members} = await planFederation(3, "mirroronly");
    // The third planned node is left out of the definition: it is the mirror.
    const mirror = members[2]!;
    const fed = {...def, members: def.members.slice(0, 2)};
    mirror.opts.federation.mirrorOnly = true;
    mirror.opts.federation.p2pListen = [`/ip4/127.0.0.1/tcp/${await freePort()}`];
    const nodes: CalendarNode[] = [];
    try {
      const a = await startMember(members[0]!, fed);
      nodes.push(a);
      const b = await startMember(members[1]!, fed);
      nodes.push(b);
      const m = await startMember(mirror, fed);
      nodes.push(m);
      assert.is(m.federation!.isMember, false);
      const msgs: Uint8Array[] = [];
      for (const url of [members[0]!.url, members[1]!.url]) {
        const d = randomBytes(32);
        const r = await postDigest(url, d, signal);
        msgs.push(proofLeaf(r.body, d).msg);
      }
      // The mirror dials every member and catches up from them.
      await waitFor("mirror has both calendars", () => m.calendars.get(a.calendar.id)?.length === a.calendar.length && m.calendars.get(b.calendar.id)?.length === b.calendar.length, signal, 50);
      for (const msg of msgs) assert.is((await getTimestamp(mirror.url, msg, signal)).text, "Pending confirmation in Bitcoin blockchain");
      const refused = await postDigest(mirror.url, randomBytes(32), signal);
      assert.is(refused.status, 403);
      assert.match(new TextDecoder().decode(refused.body), /mirror/);
      assert.is(m.calendar.length, 0, "the mirror's own journal stays empty");
      // Members keep no copy of the mirror's calendar: it is not a member.
      assert.is(a.calendars.get(m.calendar.id), null);
      assert.ok(bytesEqual(m.calendars.get(a.calendar.id)!.store.chainHash, a.calendar.store.chainHash));
    } finally {
      await stopAll(nodes, members);
    }
  }),
);

test.run();
