/**
 * `otsfed identity --data-dir DIR [--json]`: the node's calendar identity,
 * created if DIR has none yet (as the node's first start would), so an
 * operator can name the node in a federation definition before running it.
 */
import {mkdir} from "node:fs/promises";
import {join} from "node:path";
import {calendarTag} from "../../../protocol/journal/commitment.ts";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {IDENTITY_FILE, loadOrCreateIdentity} from "../../identity.ts";
import {CliError} from "../command.ts";
import type {Command} from "../command.ts";
import {parseArgs} from "./args.ts";

export const identityCommand: Command = {
  name: "identity",
  usage: "identity --data-dir DIR [--json]",
  summary: "print the node's peer id (its calendar id) and calendar tag, creating DIR/identity.key if missing",
  async run(args, io) {
    const {positional, flags} = parseArgs(args, {"data-dir": "string", json: "boolean"});
    if (positional.length > 0) throw new CliError(`unexpected argument '${positional[0]}'`);
    const dir = flags["data-dir"];
    if (!dir) throw new CliError("--data-dir DIR is required");
    await mkdir(dir, {recursive: true});
    const {identity, created} = await loadOrCreateIdentity(dir);
    const tag = toHex(calendarTag(identity.calendarId));
    const file = join(dir, IDENTITY_FILE);
    if (flags.json) io.stdout(JSON.stringify({peerId: identity.peerId, calendarTag: tag, identityFile: file, created}));
    else {
      io.stdout(`peer id       ${identity.peerId}`);
      io.stdout(`calendar tag  ${tag}`);
      io.stdout(`identity      ${file} (${created ? "created now" : "existing"})`);
    }
    return 0;
  },
};
