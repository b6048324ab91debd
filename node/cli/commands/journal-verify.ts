/** `otsfed journal verify DIR`: check a data dir's journals (its own and every mirror's), or one journal dir, end to end (read-only). */
import type {Command} from "../command.ts";
import {CliError} from "../command.ts";
import {stat} from "node:fs/promises";
import {verifyJournals} from "../../calendar/verify.ts";
import {plural} from "../../config/text.ts";

/** Refuse, as one line with exit 1, a DIR that is missing or not a directory (verifyJournals expects one). */
async function checkDirectory(dir: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (e) {
    throw new CliError(`cannot read ${dir}: ${(e as NodeJS.ErrnoException).code ?? "EIO"}`, 1);
  }
  if (!isDir) throw new CliError(`${dir} is not a directory (give a data directory or its journal/ directory)`, 1);
}

export const journalVerifyCommand: Command = {
  name: "journal verify",
  usage: "journal verify DIR",
  summary: "check journals: checksums, hash chain, checkpoints (DIR: a data dir, for its own journal and every mirror, or one journal dir)",
  async run(args, io) {
    if (args.length !== 1 || (args[0] as string).startsWith("-")) throw new CliError("expected exactly one argument: the data directory (or its journal/ directory)");
    await checkDirectory(args[0] as string);
    let problems = 0;
    for (const r of await verifyJournals(args[0] as string)) {
      io.stdout(`journal ${r.journalDir}`);
      io.stdout(`calendar id ${r.calendarId ?? "-"}`);
      io.stdout(`${plural(r.segments, "segment")}, ${plural(r.records, "record")}, ${plural(r.bytes, "byte")}`);
      io.stdout(`chain hash ${r.chainHash ?? "-"}`);
      io.stdout(`checkpoints verified ${r.checkpointsVerified}`);
      if (r.torn) io.stdout(`torn tail: segment ${r.torn.segment} at offset ${r.torn.offset}, ${r.torn.bytes} bytes (no complete record; the node cuts it at start)`);
      for (const p of r.problems) io.stderr(`error: ${r.journalDir}: ${p}`);
      problems += r.problems.length;
    }
    io.stdout(problems === 0 ? "ok" : `FAILED: ${plural(problems, "problem")}`);
    return problems === 0 ? 0 : 1;
  },
};
