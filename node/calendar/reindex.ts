/**
 * `otsfed reindex`: throw the LevelDB index away and rebuild it from the
 * journals alone (the own calendar's and every mirror's), proving the index
 * holds nothing the journals do not.
 */
import {rm} from "node:fs/promises";
import {join} from "node:path";
import {loadIdentity} from "../identity.ts";
import type {Logger} from "../logger.ts";
import type {IndexSyncReport} from "./calendar.ts";
import {CommitmentIndex, INDEX_DIR} from "./commitment-index.ts";
import {StoreError, StoreErrorCode} from "./errors.ts";
import {defaultJournalOptions} from "./journal-store.ts";
import {CalendarRegistry} from "./registry.ts";

/** What a rebuild did, for the own calendar (the sums) and per calendar held. */
export type ReindexReport = IndexSyncReport & {journalRecords: number; calendars: Array<{role: string; records: number; seconds: number}>};

export async function reindex(dataDir: string, logger: Logger): Promise<ReindexReport> {
  const identity = await loadIdentity(dataDir);
  if (!identity) throw new StoreError({code: StoreErrorCode.IDENTITY_MISMATCH}, `${dataDir} has no identity.key: not a calendar data directory`);
  // Opening takes the LevelDB lock: refuses while a node runs on this data
  // dir. A damaged index is what reindex is for: it is deleted below anyway.
  try {
    await (await CommitmentIndex.open(join(dataDir, INDEX_DIR))).close();
  } catch (e) {
    if (!(e instanceof StoreError) || e.code !== StoreErrorCode.INDEX_DAMAGED) throw e;
    logger.warn("index damaged; rebuilding it", {reason: e.message});
  }
  await rm(join(dataDir, INDEX_DIR), {recursive: true, force: true});
  const registry = await CalendarRegistry.open(dataDir, defaultJournalOptions, {logger, metrics: null, identity});
  try {
    const all = registry.calendars();
    return {
      ...registry.own.indexSync,
      records: all.reduce((a, c) => a + c.indexSync.records, 0),
      seconds: all.reduce((a, c) => a + c.indexSync.seconds, 0),
      journalRecords: all.reduce((a, c) => a + c.length, 0),
      calendars: all.map((c) => ({role: c.role, records: c.indexSync.records, seconds: c.indexSync.seconds})),
    };
  } finally {
    await registry.close();
  }
}
