/**
 * The node's options: typed, layered and validated once at start
 * (STYLE §11). Each module keeps its own options type, defaults and rows of
 * settings (node/config/option-spec.ts) next to it; this file only gathers
 * the rows, scoping each module's onto its part of {@link NodeOptions}, and
 * has node/config/layers.ts map the three outside sources onto them:
 *
 *   defaults  <  config file (--config FILE / OTSFED_CONFIG, JSON)  <  environment (OTSFED_*)  <  flags
 *
 * Unknown config keys and unknown flags are refused; unknown OTSFED_*
 * variables are left alone (other tools use the prefix).
 */
import {checkBitcoinOptions, bitcoinOptionSpecs, defaultBitcoinOptions} from "./bitcoin/options.ts";
import type {BitcoinOptions} from "./bitcoin/options.ts";
import {aggregatorOptionSpecs, defaultAggregatorOptions, journalOptionSpecs} from "./calendar/options.ts";
import type {AggregatorOptions} from "./calendar/options.ts";
import {defaultJournalOptions} from "./calendar/journal-store.ts";
import type {JournalOptions} from "./calendar/journal-store.ts";
import {optionRange as layeredOptionRange, optionsHelpText, resolveLayered} from "./config/layers.ts";
import {OptionsError, OptionsErrorCode, scopeOptions} from "./config/option-spec.ts";
import type {OptionSpec} from "./config/option-spec.ts";
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

/**
 * Resolve the node's options from defaults, the config file, `env` and
 * `args` (node/config/layers.ts), validating each value where it comes
 * from. `readText` is injectable for tests.
 */
export async function resolveNodeOptions(args: readonly string[], env: NodeJS.ProcessEnv, readText?: (path: string) => Promise<string>): Promise<NodeOptions> {
  const opts = await resolveLayered(OPTION_SPECS, defaultNodeOptions, args, env, readText);

  checkBitcoinOptions(opts.bitcoin);
  checkFederationOptions(opts.federation);
  if (opts.dataDir === "") throw new OptionsError(OptionsErrorCode.REQUIRED, `no data directory: give --data-dir, ${dataDirOptionSpec.env} or "dataDir" in the config file`);
  return opts;
}

/** What a row accepts, as its own validator words it (node/config/layers.ts); null for rows without a range. */
export function optionRange(spec: OptionSpec<NodeOptions>): string | null {
  return layeredOptionRange(spec, defaultNodeOptions);
}

/**
 * `otsfed node --help-options` (and the README's Configuration table): per
 * setting its flag, environment variable and config key, then its meaning,
 * default and range, wrapped to 80 columns.
 */
export function optionsHelp(): string {
  return optionsHelpText(OPTION_SPECS, defaultNodeOptions);
}
