/**
 * `npm run bench -- mirror [ROUNDS]`: a new mirror catching up ROUNDS
 * (default 1,000,000) rounds from one peer over loopback libp2p (the
 * catch-up stream protocol), every piece verified against the origin's
 * signature and indexed, until its first correct GET /timestamp for the
 * newest commitment ("Pending confirmation in Bitcoin blockchain", what
 * the origin answers). The origin and the mirror run in their own
 * processes; the mirror's peak RSS is the kernel's (getrusage maxrss).
 * Target (issue 12): <= 10 s, peak RSS <= 1 GB. Measures only.
 */
import {sleep} from "../node/lifecycle.ts";
import {defaultJournalOptions} from "../node/calendar/journal-store.ts";
import {planFederation} from "../test/node/federation/support.ts";
import {removeDir} from "../test/node/calendar/support.ts";
import {Member} from "./_member-process.ts";
import {commitmentHex, writeRoundJournal} from "./_rounds.ts";
import type {Figures} from "./run.ts";

export async function main(args: string[]): Promise<Figures> {
  const rounds = Number(args[0] ?? 1_000_000);
  const {def, members} = await planFederation(2, "mirrorbench", (o) => {
    o.journal.segmentBytes = defaultJournalOptions.segmentBytes;
  });
  const [origin, mirror] = members as [(typeof members)[0], (typeof members)[0]];
  const procs: Member[] = [];
  try {
    const journal = await writeRoundJournal(origin.dataDir, rounds);
    console.log(`mirror: origin journal of ${rounds} rounds written (${(journal.bytes / 1e6).toFixed(1)} MB, ${journal.segments} segments) in ${journal.seconds.toFixed(1)} s`);
    const o = new Member();
    procs.push(o);
    await o.ask({type: "start", opts: origin.opts, def, origin: origin.peerId}, "started");
    const newest = commitmentHex(journal, rounds - 1);
    const expected = await (await fetch(`${origin.url}/timestamp/${newest}`)).text();
    console.log(`  origin up (its index rebuilt); it answers the newest commitment: "${expected}"`);
    const t0 = performance.now();
    const m = new Member();
    procs.push(m);
    await m.ask({type: "start", opts: mirror.opts, def, origin: origin.peerId}, "started");
    const started = (performance.now() - t0) / 1000;
    let answer = "";
    for (;;) {
      const r = await fetch(`${mirror.url}/timestamp/${newest}`);
      answer = await r.text();
      if (answer === expected) break;
      if (performance.now() - t0 > 600_000) throw new Error(`mirror still answers "${answer}" after 600 s`);
      await sleep(20);
    }
    const seconds = (performance.now() - t0) / 1000;
    const report = await m.ask({type: "report"}, "report");
    const cpu = report.cpu as {user: number; system: number};
    const rss = report.maxRssMb as number;
    console.log(`  mirror: process started and listening in ${started.toFixed(2)} s; first correct answer for the newest commitment after ${seconds.toFixed(2)} s (${Math.round(rounds / seconds)} records/s); ${report.fetched} catch-up pieces; CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; peak RSS ${rss.toFixed(0)} MB`);
    return {rounds, journalMb: Math.round(journal.bytes / 1e5) / 10, seconds: Math.round(seconds * 100) / 100, recordsPerSecond: Math.round(rounds / seconds), pieces: report.fetched as number, peakRssMb: Math.round(rss)};
  } finally {
    await Promise.all(procs.map((p) => p.ask({type: "stop"}, "never").catch(() => {})));
    for (const x of members) await removeDir(x.dataDir);
  }
}
