import {CliError} from "../command.ts";

/** A flag's kind: one value, a switch, or a value that may be given several times (`--p2p A --p2p B`). */
type FlagKinds = Record<string, "string" | "boolean" | "list">;
type Flags<K extends FlagKinds> = {[P in keyof K]?: K[P] extends "string" ? string : K[P] extends "list" ? string[] : boolean};

/** Minimal `--flag value` / `--flag=value` / `--bool` parser that rejects unknown flags by name. */
export function parseArgs<K extends FlagKinds>(argv: string[], kinds: K): {positional: string[]; flags: Flags<K>} {
  const positional: string[] = [];
  const flags: Record<string, string | boolean | string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const kind = kinds[name];
    if (kind === undefined) throw new CliError(`unknown option --${name}`);
    if (kind === "boolean") {
      if (eq >= 0) throw new CliError(`--${name} takes no value`);
      flags[name] = true;
    } else {
      const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new CliError(`--${name} needs a value`);
      if (kind === "list") flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
      else flags[name] = value;
    }
  }
  return {positional, flags: flags as Flags<K>};
}
