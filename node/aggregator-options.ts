/**
 * The stand-alone aggregator's options (`otsfed aggregator`): typed,
 * layered and validated once at start (STYLE §11), as the calendar node's
 * (node/options.ts) and through the same layering (node/config/layers.ts):
 *
 *   defaults  <  config file (--config FILE / OTSFED_CONFIG, JSON)  <  environment (OTSFED_*)  <  flags
 *
 * Its rows are the modules' own: the upstream calendars
 * (node/aggregator/options.ts), the aggregator's rounds and queue
 * (node/calendar/options.ts), the HTTP listen address and connection bound
 * (node/http/options.ts; not `--url`: an aggregator writes no Pending
 * attestation of its own) and the log level.
 */
import {checkUpstreamOptions, defaultUpstreamOptions, upstreamOptionSpecs} from "./aggregator/options.ts";
import type {UpstreamOptions} from "./aggregator/options.ts";
import {aggregatorOptionSpecs, defaultAggregatorOptions} from "./calendar/options.ts";
import type {AggregatorOptions} from "./calendar/options.ts";
import {optionsHelpText, resolveLayered} from "./config/layers.ts";
import {scopeOptions} from "./config/option-spec.ts";
import type {OptionSpec} from "./config/option-spec.ts";
import {defaultHttpOptions, httpOptionSpecs} from "./http/options.ts";
import type {HttpOptions} from "./http/options.ts";
import {logLevelOptionSpec} from "./logger.ts";
import type {LogLevel} from "./logger.ts";

/** Everything a stand-alone aggregator is configured with: plain data, one part per module. */
export type AggregatorNodeOptions = {
  logLevel: LogLevel;
  /** `url` stays empty: the aggregator's clients' proofs name the upstreams, never the aggregator. */
  http: HttpOptions;
  aggregator: AggregatorOptions;
  upstream: UpstreamOptions;
};

/** The port beside otsd's 14788, so an aggregator and a calendar can share a host with their defaults. */
export const DEFAULT_AGGREGATOR_LISTEN = "127.0.0.1:14789";

/** Every module's defaults, copied. */
export function defaultAggregatorNodeOptions(): AggregatorNodeOptions {
  return {
    logLevel: "info",
    http: {...defaultHttpOptions, listen: DEFAULT_AGGREGATOR_LISTEN},
    aggregator: {...defaultAggregatorOptions},
    upstream: {...defaultUpstreamOptions, upstreams: [...defaultUpstreamOptions.upstreams]},
  };
}

/** The HTTP rows an aggregator has: `--listen` (with its own default in the help) and `--max-connections`. */
const aggregatorHttpSpecs: OptionSpec<HttpOptions>[] = httpOptionSpecs
  .filter((s) => s.key !== "url")
  .map((s) => (s.key === "listen" ? {...s, help: `host:port of the aggregator's HTTP API (default ${DEFAULT_AGGREGATOR_LISTEN})`} : s));

/** Every setting, in the order `--help-options` lists them. */
export const AGGREGATOR_OPTION_SPECS: readonly OptionSpec<AggregatorNodeOptions>[] = [
  ...scopeOptions(upstreamOptionSpecs, (o: AggregatorNodeOptions) => o.upstream),
  ...scopeOptions(aggregatorHttpSpecs, (o: AggregatorNodeOptions) => o.http),
  ...scopeOptions(aggregatorOptionSpecs, (o: AggregatorNodeOptions) => o.aggregator),
  logLevelOptionSpec,
];

/**
 * Resolve the aggregator's options from defaults, the config file, `env`
 * and `args`, each value validated where it comes from, then the checks
 * across settings (some upstream; `--min-upstreams` at most their number).
 */
export async function resolveAggregatorOptions(args: readonly string[], env: NodeJS.ProcessEnv, readText?: (path: string) => Promise<string>): Promise<AggregatorNodeOptions> {
  const opts = await resolveLayered(AGGREGATOR_OPTION_SPECS, defaultAggregatorNodeOptions, args, env, readText);
  checkUpstreamOptions(opts.upstream);
  return opts;
}

/** `otsfed aggregator --help-options`. */
export function aggregatorOptionsHelp(): string {
  return optionsHelpText(AGGREGATOR_OPTION_SPECS, defaultAggregatorNodeOptions);
}
