/**
 * `otsfed federation init --name NAME --out FILE`: start a federation
 * definition with no members yet; `add-member` appends each operator's
 * node. Never overwrites a file.
 */
import {basename, dirname} from "node:path";
import {encodeFederationDefinition, federationNameProblem} from "../../federation/definition.ts";
import type {FederationDefinition} from "../../federation/definition.ts";
import {createFileAtomic} from "../../fsutil.ts";
import {CliError} from "../command.ts";
import type {Command} from "../command.ts";
import {parseArgs} from "./args.ts";

export const federationInitCommand: Command = {
  name: "federation init",
  usage: "federation init --name NAME --out FILE",
  summary: "write a new federation definition, with no members yet, to FILE (never over an existing file)",
  async run(args, io) {
    const {positional, flags} = parseArgs(args, {name: "string", out: "string"});
    if (positional.length > 0) throw new CliError(`unexpected argument '${positional[0]}'`);
    const name = flags.name;
    const out = flags.out;
    if (name === undefined) throw new CliError("--name NAME is required");
    if (!out) throw new CliError("--out FILE is required");
    const problem = federationNameProblem(name);
    if (problem !== null) throw new CliError(`--name: ${problem}`);
    const def: FederationDefinition = {version: 1, name, members: []};
    try {
      await createFileAtomic(dirname(out), basename(out), new TextEncoder().encode(encodeFederationDefinition(def)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new CliError(`${out} already exists; init never overwrites a definition (add members with 'otsfed federation add-member ${out} ...')`);
      throw e;
    }
    io.stdout(`wrote ${out}: federation ${name}, no members yet`);
    io.stdout(`add each node with: otsfed federation add-member ${out} --data-dir DIR --url URL --p2p ADDR`);
    return 0;
  },
};
