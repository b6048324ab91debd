import {readFile} from "node:fs/promises";
import {decodeDetached, formatDetachedInfo} from "../../../protocol/ots/index.ts";
import {CliError} from "../command.ts";
import type {Command} from "../command.ts";
import {readInputFile} from "./files.ts";

/** `otsfed info FILE.ots`: the proof tree, offline, as `ots info` prints it. */
export const infoCommand: Command = {
  name: "info",
  usage: "info FILE.ots",
  summary: "print a proof's tree: ops, attestations and the messages they attest",
  async run(args, io) {
    if (args.length !== 1 || (args[0] as string).startsWith("-")) throw new CliError("expected exactly one FILE.ots");
    const bytes = await readInputFile(args[0] as string, readFile);
    const file = decodeDetached(bytes);
    io.stdout(formatDetachedInfo(file).trimEnd());
    return 0;
  },
};
