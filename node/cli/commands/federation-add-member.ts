/**
 * `otsfed federation add-member FILE --data-dir DIR --url URL --p2p ADDR
 * [--p2p ADDR ...]`: append the node of DIR (its identity created if
 * missing) to the definition in FILE, with the next rank. Every value is
 * checked as the node will check the file, and the file is replaced
 * atomically: it holds the old definition or the new one, never a mix.
 */
import {mkdir} from "node:fs/promises";
import {basename, dirname} from "node:path";
import {
  encodeFederationDefinition,
  FederationError,
  FederationErrorCode,
  loadFederationDefinition,
  MAX_FEDERATION_MEMBERS,
  MAX_MEMBER_P2P_ADDRS,
  memberAddressProblem,
  memberOf,
  memberUrlProblem,
  parseFederationDefinition,
} from "../../federation/definition.ts";
import type {FederationDefinition, FederationMember} from "../../federation/definition.ts";
import {plural} from "../../config/text.ts";
import {writeFileAtomic} from "../../fsutil.ts";
import {loadOrCreateIdentity} from "../../identity.ts";
import {CliError} from "../command.ts";
import type {Command} from "../command.ts";
import {parseArgs} from "./args.ts";

/** Refuse a value of `--p2p` (all of them before anything is created, the peer check once the identity is known). */
function checkAddresses(addrs: readonly string[], calendarId: string | null): void {
  for (const [i, a] of addrs.entries()) {
    const problem = memberAddressProblem(a, calendarId);
    if (problem !== null) throw new CliError(`--p2p: ${problem}`);
    if (addrs.indexOf(a) !== i) throw new CliError(`--p2p: '${a}' is given twice`);
  }
}

export const federationAddMemberCommand: Command = {
  name: "federation add-member",
  usage: "federation add-member FILE --data-dir DIR --url URL --p2p ADDR [--p2p ADDR ...]",
  summary: "append the node of DIR (its identity created if missing) to the federation definition FILE, with the next rank",
  async run(args, io) {
    const {positional, flags} = parseArgs(args, {"data-dir": "string", url: "string", p2p: "list"});
    if (positional.length !== 1) throw new CliError("expected exactly one FILE: the federation definition (see 'otsfed federation init')");
    const file = positional[0] as string;
    const dir = flags["data-dir"];
    const url = flags.url;
    const p2p = flags.p2p ?? [];
    if (!dir) throw new CliError("--data-dir DIR is required");
    if (url === undefined) throw new CliError("--url URL is required: the calendar's public URL, as in its Pending attestations");
    if (p2p.length === 0) throw new CliError("--p2p ADDR is required: a multiaddr the node's libp2p host is reached at (repeat it for more)");
    if (p2p.length > MAX_MEMBER_P2P_ADDRS) throw new CliError(`--p2p: ${p2p.length} addresses; a member has at most ${MAX_MEMBER_P2P_ADDRS}`);
    const urlProblem = memberUrlProblem(url);
    if (urlProblem !== null) throw new CliError(`--url: ${urlProblem}`);
    checkAddresses(p2p, null);

    const def = await loadFederationDefinition(file);
    if (def.members.length >= MAX_FEDERATION_MEMBERS) throw new FederationError({code: FederationErrorCode.BAD_DEFINITION}, `${file}: already has ${def.members.length} members, the most a federation has`);
    await mkdir(dir, {recursive: true});
    const {identity} = await loadOrCreateIdentity(dir);
    checkAddresses(p2p, identity.peerId);
    const named = memberOf(def, identity.peerId);
    if (named !== null) throw new FederationError({code: FederationErrorCode.ALREADY_MEMBER}, `${file}: already names this node (${identity.peerId}) as the member of rank ${named.rank}`);
    const sameUrl = def.members.find((m) => m.url.toLowerCase() === url.toLowerCase());
    if (sameUrl !== undefined) throw new FederationError({code: FederationErrorCode.ALREADY_MEMBER}, `${file}: ${url} is already the URL of the member of rank ${sameUrl.rank} (${sameUrl.calendarId}); each calendar has its own`);

    const rank = def.members.reduce((max, m) => Math.max(max, m.rank + 1), 0);
    const member: FederationMember = {calendarId: identity.peerId, url, p2p: [...p2p], rank};
    const next: FederationDefinition = {...def, members: [...def.members, member]};
    const text = encodeFederationDefinition(next);
    // Never write what a node would refuse to start with.
    parseFederationDefinition(text, file);
    await writeFileAtomic(dirname(file), basename(file), new TextEncoder().encode(text));
    io.stdout(`added ${identity.peerId} to ${file} as rank ${rank} (federation ${def.name}, ${plural(next.members.length, "member")})`);
    return 0;
  },
};
