/**
 * One member of a bench's federation (bench/gossip.ts, bench/mirror.ts), in
 * its own process (forked by _member-process.ts, IPC). Told its options and the definition, it starts a calendar node;
 * the origin then writes rounds at the rate it is told, noting when each is
 * durable; every other member notes when each of the origin's records is
 * durable and indexed in its mirror. Times are the machine's clock
 * (performance.timeOrigin + performance.now()), comparable across processes.
 */
import {randomBytes} from "node:crypto";
import {systemClock} from "../node/clock.ts";
import type {FederationDefinition} from "../node/federation/definition.ts";
import {calendarIdFromString} from "../node/identity.ts";
import {sleep} from "../node/lifecycle.ts";
import {nullLogger} from "../node/logger.ts";
import {CalendarNode} from "../node/node.ts";
import type {NodeOptions} from "../node/options.ts";

type Start = {type: "start"; opts: NodeOptions; def: FederationDefinition; origin: string};
type Write = {type: "write"; rate: number; seconds: number};
type Report = {type: "report"};
type Stop = {type: "stop"};

const now = (): number => performance.timeOrigin + performance.now();
let node: CalendarNode | null = null;
const times: number[] = [];

process.on("message", (m: Start | Write | Report | Stop) => {
  void (async () => {
    if (m.type === "start") {
      node = await CalendarNode.init(m.opts, {logger: nullLogger, clock: systemClock, bitcoin: null, federation: m.def, federationTimings: {}});
      await node.start();
      const originId = calendarIdFromString(m.origin) as Uint8Array;
      const cal = node.calendars.get(originId) ?? node.calendar;
      cal.onRecords((records) => {
        const t = now();
        for (const r of records) times[r.seq] = t;
      });
      process.send?.({type: "started"});
    } else if (m.type === "write" && node !== null) {
      const t0 = performance.now();
      let issued = 0;
      const pending: Promise<unknown>[] = [];
      while (performance.now() - t0 < m.seconds * 1000) {
        const due = Math.floor(((performance.now() - t0) / 1000) * m.rate);
        for (; issued < due; issued++) pending.push(node.calendar.commitRound(randomBytes(32), 1, Date.now()));
        await sleep(5);
      }
      await Promise.all(pending);
      process.send?.({type: "written", rounds: issued, seconds: (performance.now() - t0) / 1000, length: node.calendar.length});
    } else if (m.type === "report" && node !== null) {
      const mirrors = node.federation?.report().members.filter((x) => x.connected).length ?? 0;
      process.send?.({type: "report", times, connected: mirrors, pieces: node.federation?.counters.gossipPieces ?? 0, fetched: node.federation?.counters.fetchedPieces ?? 0, cpu: process.cpuUsage(), maxRssMb: process.resourceUsage().maxRSS / 1024, url: node.calendarUrl});
    } else if (m.type === "stop") {
      await node?.stop();
      process.exit(0);
    }
  })();
});
