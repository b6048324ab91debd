/**
 * `npm run bench -- reindex [ROUNDS]`: a journal of 1,000,000 rounds
 * (default): how long a node takes to start and serve with a current index
 * (the start verifies every segment: checksums and hash chain), with no
 * index (automatic rebuild), and how fast `otsfed reindex` rebuilds it.
 * Target: >= 200,000 records/s. Measures only.
 */
import {mkdtemp, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {reindex} from "../node/calendar/reindex.ts";
import {systemClock} from "../node/clock.ts";
import {nullLogger} from "../node/logger.ts";
import {CalendarNode} from "../node/node.ts";
import {defaultNodeOptions} from "../node/options.ts";
import {writeRoundJournal} from "./_rounds.ts";

async function startAndServe(dir: string): Promise<{seconds: number; node: CalendarNode}> {
  const t0 = performance.now();
  const opts = defaultNodeOptions();
  opts.dataDir = dir;
  opts.http.listen = "127.0.0.1:0";
  const node = await CalendarNode.init(opts, {logger: nullLogger, clock: systemClock, bitcoin: null});
  const {url} = await node.start();
  const r = await fetch(`${url}/healthz`);
  if (r.status !== 200) throw new Error(`healthz ${r.status}`);
  return {seconds: (performance.now() - t0) / 1000, node};
}

export async function main(args: string[]): Promise<Record<string, number | string>> {
  const rounds = Number(args[0] ?? 1_000_000);
  const dir = await mkdtemp(join(tmpdir(), "otsfed-bench-reindex-"));
  try {
    console.log(`reindex: building a journal of ${rounds} rounds in ${dir}`);
    const {bytes, segments, seconds} = await writeRoundJournal(dir, rounds);
    console.log(`  written in ${seconds.toFixed(1)} s: ${segments} segments, ${(bytes / 1e6).toFixed(1)} MB`);

    // First start: no index yet, so the node rebuilds it before serving.
    const first = await startAndServe(dir);
    const sync = first.node.calendar.indexSync;
    await first.node.stop();
    console.log(`  start with no index (verify journal + rebuild index) and serve: ${first.seconds.toFixed(2)} s (rebuild ${sync.seconds.toFixed(2)} s, ${Math.round(sync.records / sync.seconds)} records/s)`);

    const second = await startAndServe(dir);
    await second.node.stop();
    console.log(`  start with a current index (verify journal) and serve:        ${second.seconds.toFixed(2)} s`);

    const t1 = performance.now();
    const r = await reindex(dir, nullLogger);
    const total = (performance.now() - t1) / 1000;
    const rate = r.records / r.seconds;
    console.log(`  otsfed reindex: ${total.toFixed(2)} s in all (journal verify + rebuild); rebuild ${r.seconds.toFixed(2)} s = ${Math.round(rate)} records/s (target >= 200000)`);
    return {
      rounds,
      journal_mb: Number((bytes / 1e6).toFixed(1)),
      segments,
      start_no_index_s: Number(first.seconds.toFixed(2)),
      start_current_index_s: Number(second.seconds.toFixed(2)),
      reindex_total_s: Number(total.toFixed(2)),
      rebuild_s: Number(r.seconds.toFixed(2)),
      rebuild_records_per_s: Math.round(rate),
      reindex_total_records_per_s: Math.round(r.records / total),
    };
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}
