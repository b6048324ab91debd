/** `otsfed reindex --data-dir DIR`: rebuild the LevelDB index from the journal alone. */
import type {Command} from "../command.ts";
import {CliError} from "../command.ts";
import {reindex} from "../../calendar/reindex.ts";
import {createPinoLogger} from "../../logger.ts";
import {plural} from "../../config/text.ts";

export const reindexCommand: Command = {
  name: "reindex",
  usage: "reindex --data-dir DIR",
  summary: "rebuild a stopped node's index from its journal",
  async run(args, io) {
    let dir: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const a = args[i] as string;
      if (a === "--data-dir") dir = args[++i];
      else if (a.startsWith("--data-dir=")) dir = a.slice("--data-dir=".length);
      else throw new CliError(`unknown argument '${a}'`);
    }
    if (!dir) throw new CliError("--data-dir DIR is required");
    const r = await reindex(dir, createPinoLogger("warn"));
    const rate = r.seconds > 0 ? Math.round(r.records / r.seconds) : r.records;
    const held = r.calendars.length > 1 ? ` in ${r.calendars.length} calendars (own and mirrors)` : "";
    io.stdout(`reindexed ${plural(r.records, "record")} in ${r.seconds.toFixed(2)} s (${rate} records/s); journal length ${r.journalRecords}${held}`);
    return 0;
  },
};
