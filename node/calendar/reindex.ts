/**
 * `otsfed reindex`: throw the LevelDB index away and rebuild it from the
 * journal alone, proving the index holds nothing the journal does not.
 */
import {rm} from "node:fs/promises";
import {join} from "node:path";
import {loadIdentity} from "../identity.ts";
import type {Logger} from "../logger.ts";
import {Calendar} from "./calendar.ts";
import type {IndexSyncReport} from "./calendar.ts";
import {CommitmentIndex, INDEX_DIR} from "./commitment-index.ts";
import {StoreError, StoreErrorCode} from "./errors.ts";
import {defaultJournalOptions} from "./journal-store.ts";

export async function reindex(dataDir: string, logger: Logger): Promise<IndexSyncReport & {journalRecords: number}> {
  const identity = await loadIdentity(dataDir);
  if (!identity) throw new StoreError({code: StoreErrorCode.IDENTITY_MISMATCH}, `${dataDir} has no identity.key: not a calendar data directory`);
  // Opening takes the LevelDB lock: refuses while a node runs on this data dir.
  const probe = await CommitmentIndex.open(join(dataDir, INDEX_DIR));
  await probe.close();
  await rm(join(dataDir, INDEX_DIR), {recursive: true, force: true});
  const calendar = await Calendar.open(dataDir, defaultJournalOptions, {logger, metrics: null, identity});
  try {
    return {...calendar.indexSync, journalRecords: calendar.store.length};
  } finally {
    await calendar.close();
  }
}
