/**
 * The layering every otsfed daemon's settings go through (STYLE §11), over
 * any table of option rows (node/config/option-spec.ts): `otsfed node`'s
 * (node/options.ts) and `otsfed aggregator`'s (node/aggregator-options.ts)
 * are two tables over the same machinery.
 *
 *   defaults  <  config file (--config FILE / OTSFED_CONFIG, JSON)  <  environment (OTSFED_*)  <  flags
 *
 * Unknown config keys and unknown flags are refused; unknown OTSFED_*
 * variables are left alone (other tools use the prefix). A flag given twice
 * keeps its last value, unless its row is `repeatable`: then the row gets
 * every value, in order.
 */
import {readFile} from "node:fs/promises";
import {applyOption, optionSource, OptionsError, OptionsErrorCode} from "./option-spec.ts";
import type {OptionSpec} from "./option-spec.ts";
import {wrapText} from "./text.ts";

export const CONFIG_FLAG = "--config";
export const CONFIG_ENV = "OTSFED_CONFIG";

/** What a flag was given on the command line: its last value, or every value of a repeatable one. */
type FlagValues = Map<string, string[]>;

/** Split `--flag value` / `--flag=value` pairs; refuse unknown flags and positional arguments. */
export function parseFlags<T>(specs: readonly OptionSpec<T>[], args: readonly string[]): FlagValues {
  const known = new Set([CONFIG_FLAG, ...specs.map((s) => s.flag)]);
  const repeatable = new Set(specs.filter((s) => s.repeatable).map((s) => s.flag));
  const out: FlagValues = new Map();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const eq = a.indexOf("=");
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (!known.has(flag)) throw new OptionsError(OptionsErrorCode.UNKNOWN, `unknown ${a.startsWith("-") ? "flag" : "argument"} '${flag}' (known: ${[...known].join(", ")})`);
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      const next = args[i + 1];
      if (next === undefined) throw new OptionsError(OptionsErrorCode.MISSING_VALUE, `flag ${flag} needs a value`);
      value = next;
      i++;
    }
    out.set(flag, repeatable.has(flag) ? [...(out.get(flag) ?? []), value] : [value]);
  }
  return out;
}

/** The config file's entries: it must hold a JSON object. */
async function readConfigFile(path: string, readText: (path: string) => Promise<string>): Promise<Array<[string, unknown]>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readText(path));
  } catch (e) {
    throw new OptionsError(OptionsErrorCode.BAD_CONFIG_FILE, `config file ${path}: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new OptionsError(OptionsErrorCode.BAD_CONFIG_FILE, `config file ${path}: must hold a JSON object`);
  return Object.entries(parsed);
}

/**
 * Options from `defaults()`, the config file, `env` and `args`, each value
 * validated where it comes from. Checks across settings are the caller's,
 * after this returns. `readText` is injectable for tests.
 */
export async function resolveLayered<T>(specs: readonly OptionSpec<T>[], defaults: () => T, args: readonly string[], env: NodeJS.ProcessEnv, readText: (path: string) => Promise<string> = (p) => readFile(p, "utf8")): Promise<T> {
  const flags = parseFlags(specs, args);
  const opts = defaults();

  const configPath = flags.get(CONFIG_FLAG)?.at(-1) ?? env[CONFIG_ENV];
  if (configPath !== undefined) {
    for (const [key, value] of await readConfigFile(configPath, readText)) {
      const spec = specs.find((s) => s.key === key);
      if (!spec) throw new OptionsError(OptionsErrorCode.UNKNOWN, `config file ${configPath}: unknown key '${key}' (known: ${specs.map((s) => s.key).join(", ")})`);
      applyOption(opts, spec, value, optionSource.configKey(configPath, key));
    }
  }
  for (const spec of specs) {
    const v = env[spec.env];
    if (v !== undefined) applyOption(opts, spec, v, optionSource.env(spec.env));
  }
  for (const spec of specs) {
    const v = flags.get(spec.flag);
    if (v !== undefined) applyOption(opts, spec, spec.repeatable ? v : v.at(-1), optionSource.flag(spec.flag));
  }
  return opts;
}

/**
 * What a row accepts, as its own validator words it: the row is asked to
 * parse an impossible value and its refusal read for `from X to Y` (every
 * numeric and duration row says its range so). Reading it from the
 * validator keeps the help from ever disagreeing with what is accepted.
 * Null for rows without a range (paths, URLs, names).
 */
export function optionRange<T>(spec: OptionSpec<T>, defaults: () => T): string | null {
  try {
    spec.apply(defaults(), "-1");
  } catch (e) {
    const m = e instanceof Error ? /\bfrom (.+) to (.+)$/.exec(e.message) : null;
    // A no-break space keeps a number with its unit when the help is wrapped ("1 h", "7 days").
    if (m) return `${m[1]} to ${m[2]}`.replace(/(\d) (?=[a-z])/g, "$1\u00a0");
  }
  return null;
}

/**
 * `--help-options` (and the README's Configuration tables): per setting its
 * flag, environment variable and config key, then its meaning, default and
 * range, wrapped to 80 columns.
 */
export function optionsHelpText<T>(specs: readonly OptionSpec<T>[], defaults: () => T): string {
  const entry = (flag: string, env: string, key: string, help: string): string =>
    [`  ${flag}`, wrapText(key === "" ? `environment ${env}` : `environment ${env}, config key ${key}`, "      "), wrapText(help, "      ")].join("\n");
  const entries = [
    entry(CONFIG_FLAG, CONFIG_ENV, "", "JSON config file (an object of the config keys below)"),
    ...specs.map((s) => {
      const range = optionRange(s, defaults);
      return entry(s.repeatable ? `${s.flag} (repeatable)` : s.flag, s.env, s.key, range === null ? s.help : `${s.help}; from ${range}`);
    }),
  ];
  return [wrapText("Settings, each from the first of: flag, environment, config file (--config), default.", ""), "", ...entries].join("\n");
}
