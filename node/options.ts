/**
 * The node's options: typed, layered and validated once at start
 * (STYLE §11). Each module keeps its own options type, defaults and rows of
 * settings (node/config/option-spec.ts) next to it; this file only gathers
 * the rows, scoping each module's onto its part of {@link NodeOptions}, and
 * maps the three outside sources onto them:
 *
 *   defaults  <  config file (--config FILE / OTSFED_CONFIG, JSON)  <  environment (OTSFED_*)  <  flags
 *
 * Unknown config keys and unknown flags are refused; unknown OTSFED_*
 * variables are left alone (other tools use the prefix).
 */
import {readFile} from "node:fs/promises";
import {checkBitcoinOptions, bitcoinOptionSpecs, defaultBitcoinOptions} from "./bitcoin/options.ts";
import type {BitcoinOptions} from "./bitcoin/options.ts";
import {aggregatorOptionSpecs, defaultAggregatorOptions, journalOptionSpecs} from "./calendar/options.ts";
import type {AggregatorOptions} from "./calendar/options.ts";
import {defaultJournalOptions} from "./calendar/journal-store.ts";
import type {JournalOptions} from "./calendar/journal-store.ts";
import {applyOption, optionSource, OptionsError, OptionsErrorCode, scopeOptions} from "./config/option-spec.ts";
import type {OptionSpec} from "./config/option-spec.ts";
import {wrapText} from "./config/text.ts";
import {nonEmptyString} from "./config/values.ts";
import {defaultHttpOptions, httpOptionSpecs} from "./http/options.ts";
import type {HttpOptions} from "./http/options.ts";
import {logLevelOptionSpec} from "./logger.ts";
import type {LogLevel} from "./logger.ts";
import {defaultStamperOptions, stamperOptionSpecs} from "./stamper/options.ts";
import type {StamperOptions} from "./stamper/options.ts";
import {checkFederationOptions, defaultFederationOptions, federationOptionSpecs} from "./federation/options.ts";
import type {FederationOptions} from "./federation/options.ts";

/** Everything a calendar node is configured with: plain data, one part per module. */
export type NodeOptions = {
  /** Directory holding identity.key, journal/ and index/. */
  dataDir: string;
  logLevel: LogLevel;
  http: HttpOptions;
  journal: JournalOptions;
  aggregator: AggregatorOptions;
  bitcoin: BitcoinOptions;
  stamper: StamperOptions;
  federation: FederationOptions;
};

/** Every module's defaults, copied (changing one node's options leaves the defaults alone). */
export function defaultNodeOptions(): NodeOptions {
  return {
    dataDir: "",
    logLevel: "info",
    http: {...defaultHttpOptions},
    journal: {...defaultJournalOptions},
    aggregator: {...defaultAggregatorOptions},
    bitcoin: {...defaultBitcoinOptions},
    stamper: {...defaultStamperOptions, fee: {...defaultStamperOptions.fee}},
    federation: {...defaultFederationOptions, p2pListen: [...defaultFederationOptions.p2pListen]},
  };
}

const dataDirOptionSpec: OptionSpec<NodeOptions> = {
  key: "dataDir",
  env: "OTSFED_DATA_DIR",
  flag: "--data-dir",
  help: "directory for identity.key, journal/ and index/ (required)",
  apply: (o, v) => void (o.dataDir = nonEmptyString(v)),
};

/** Every setting, in the order `--help-options` lists them. */
export const OPTION_SPECS: readonly OptionSpec<NodeOptions>[] = [
  dataDirOptionSpec,
  ...scopeOptions(httpOptionSpecs, (o: NodeOptions) => o.http),
  ...scopeOptions(aggregatorOptionSpecs, (o: NodeOptions) => o.aggregator),
  ...scopeOptions(journalOptionSpecs, (o: NodeOptions) => o.journal),
  ...scopeOptions(bitcoinOptionSpecs, (o: NodeOptions) => o.bitcoin),
  ...scopeOptions(stamperOptionSpecs, (o: NodeOptions) => o.stamper),
  ...scopeOptions(federationOptionSpecs, (o: NodeOptions) => o.federation),
  logLevelOptionSpec,
];

const CONFIG_FLAG = "--config";
const CONFIG_ENV = "OTSFED_CONFIG";

/** Split `--flag value` / `--flag=value` pairs; refuse unknown flags and positional arguments. */
export function parseFlags(args: readonly string[]): Map<string, string> {
  const known = new Set([CONFIG_FLAG, ...OPTION_SPECS.map((s) => s.flag)]);
  const out = new Map<string, string>();
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
    out.set(flag, value);
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
 * Resolve the node's options from defaults, the config file, `env` and
 * `args`, validating each value where it comes from. `readText` is
 * injectable for tests.
 */
export async function resolveNodeOptions(args: readonly string[], env: NodeJS.ProcessEnv, readText: (path: string) => Promise<string> = (p) => readFile(p, "utf8")): Promise<NodeOptions> {
  const flags = parseFlags(args);
  const opts = defaultNodeOptions();

  const configPath = flags.get(CONFIG_FLAG) ?? env[CONFIG_ENV];
  if (configPath !== undefined) {
    for (const [key, value] of await readConfigFile(configPath, readText)) {
      const spec = OPTION_SPECS.find((s) => s.key === key);
      if (!spec) throw new OptionsError(OptionsErrorCode.UNKNOWN, `config file ${configPath}: unknown key '${key}' (known: ${OPTION_SPECS.map((s) => s.key).join(", ")})`);
      applyOption(opts, spec, value, optionSource.configKey(configPath, key));
    }
  }
  for (const spec of OPTION_SPECS) {
    const v = env[spec.env];
    if (v !== undefined) applyOption(opts, spec, v, optionSource.env(spec.env));
  }
  for (const spec of OPTION_SPECS) {
    const v = flags.get(spec.flag);
    if (v !== undefined) applyOption(opts, spec, v, optionSource.flag(spec.flag));
  }

  checkBitcoinOptions(opts.bitcoin);
  checkFederationOptions(opts.federation);
  if (opts.dataDir === "") throw new OptionsError(OptionsErrorCode.REQUIRED, `no data directory: give --data-dir, ${dataDirOptionSpec.env} or "dataDir" in the config file`);
  return opts;
}

/**
 * What a row accepts, as its own validator words it: the row is asked to
 * parse an impossible value and its refusal read for `from X to Y` (every
 * numeric and duration row says its range so). Reading it from the
 * validator keeps the help from ever disagreeing with what is accepted.
 * Null for rows without a range (paths, URLs, names).
 */
export function optionRange(spec: OptionSpec<NodeOptions>): string | null {
  try {
    spec.apply(defaultNodeOptions(), "-1");
  } catch (e) {
    const m = e instanceof Error ? /\bfrom (.+) to (.+)$/.exec(e.message) : null;
    // A no-break space keeps a number with its unit when the help is wrapped ("1 h", "7 days").
    if (m) return `${m[1]} to ${m[2]}`.replace(/(\d) (?=[a-z])/g, "$1\u00a0");
  }
  return null;
}

/**
 * `otsfed node --help-options` (and the README's Configuration table): per
 * setting its flag, environment variable and config key, then its meaning,
 * default and range, wrapped to 80 columns.
 */
export function optionsHelp(): string {
  const entry = (flag: string, env: string, key: string, help: string): string =>
    [`  ${flag}`, wrapText(key === "" ? `environment ${env}` : `environment ${env}, config key ${key}`, "      "), wrapText(help, "      ")].join("\n");
  const entries = [
    entry(CONFIG_FLAG, CONFIG_ENV, "", "JSON config file (an object of the config keys below)"),
    ...OPTION_SPECS.map((s) => {
      const range = optionRange(s);
      return entry(s.flag, s.env, s.key, range === null ? s.help : `${s.help}; from ${range}`);
    }),
  ];
  return [wrapText("Settings, each from the first of: flag, environment, config file (--config), default.", ""), "", ...entries].join("\n");
}
