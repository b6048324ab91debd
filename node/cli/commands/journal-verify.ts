/** `otsfed journal verify DIR`: check a calendar journal end to end (read-only). */
import type {Command} from "../command.ts";
import {CliError} from "../command.ts";
import {verifyJournal} from "../../calendar/verify.ts";

export const journalVerifyCommand: Command = {
  name: "journal verify",
  usage: "journal verify DIR",
  summary: "check a calendar journal: checksums, hash chain, checkpoints (DIR: data dir or journal dir)",
  async run(args, io) {
    if (args.length !== 1 || (args[0] as string).startsWith("-")) throw new CliError("expected exactly one argument: the data directory (or its journal/ directory)");
    const r = await verifyJournal(args[0] as string);
    io.stdout(`journal ${r.journalDir}`);
    io.stdout(`calendar id ${r.calendarId ?? "-"}`);
    io.stdout(`segments ${r.segments}, records ${r.records}, bytes ${r.bytes}`);
    io.stdout(`chain hash ${r.chainHash ?? "-"}`);
    io.stdout(`checkpoints verified ${r.checkpointsVerified}`);
    if (r.torn) io.stdout(`torn tail: segment ${r.torn.segment} at offset ${r.torn.offset}, ${r.torn.bytes} bytes (no complete record; the node cuts it at start)`);
    for (const p of r.problems) io.stderr(`error: ${p}`);
    io.stdout(r.problems.length === 0 ? "ok" : `FAILED: ${r.problems.length} problem(s)`);
    return r.problems.length === 0 ? 0 : 1;
  },
};
