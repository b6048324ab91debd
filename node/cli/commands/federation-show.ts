/**
 * `otsfed federation show FILE [--json]`: a federation definition as
 * people (or, with --json, scripts) read it, checked as a node checks it:
 * each member's rank, peer id, calendar tag (the 4 bytes in its
 * commitments), URL and libp2p addresses.
 */
import {calendarTag} from "../../../protocol/journal/commitment.ts";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {plural} from "../../config/text.ts";
import {loadFederationDefinition} from "../../federation/definition.ts";
import {calendarIdFromString} from "../../identity.ts";
import {CliError} from "../command.ts";
import type {Command} from "../command.ts";
import {parseArgs} from "./args.ts";

/** The calendar tag of a member's (checked) calendar id, in hex. */
function tagOf(calendarId: string): string {
  return toHex(calendarTag(calendarIdFromString(calendarId) as Uint8Array));
}

export const federationShowCommand: Command = {
  name: "federation show",
  usage: "federation show FILE [--json]",
  summary: "check and print a federation definition: its name and every member's rank, peer id, calendar tag, URL and libp2p addresses",
  async run(args, io) {
    const {positional, flags} = parseArgs(args, {json: "boolean"});
    if (positional.length !== 1) throw new CliError("expected exactly one FILE: the federation definition");
    const file = positional[0] as string;
    const def = await loadFederationDefinition(file);
    const members = def.members.map((m) => ({rank: m.rank, calendarId: m.calendarId, calendarTag: tagOf(m.calendarId), url: m.url, p2p: m.p2p}));
    if (flags.json) {
      io.stdout(JSON.stringify({name: def.name, version: def.version, members}));
      return 0;
    }
    io.stdout(`federation ${def.name} (definition version ${def.version}), ${plural(members.length, "member")}`);
    for (const m of members) {
      io.stdout("");
      io.stdout(`rank ${m.rank}`);
      io.stdout(`  peer id       ${m.calendarId}`);
      io.stdout(`  calendar tag  ${m.calendarTag}`);
      io.stdout(`  url           ${m.url}`);
      for (const [i, a] of m.p2p.entries()) io.stdout(`  ${i === 0 ? "p2p" : "   "}           ${a}`);
    }
    if (members.length === 0) io.stdout("add each node with: otsfed federation add-member FILE --data-dir DIR --url URL --p2p ADDR");
    return 0;
  },
};
