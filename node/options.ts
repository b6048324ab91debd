/**
 * The node's options: typed, layered and validated once at start
 * (STYLE §11). Each module keeps its own options type and defaults; this file
 * only aggregates them and maps the three outside sources onto them:
 *
 *   defaults  <  config file (--config FILE / OTSFED_CONFIG, JSON)  <  environment (OTSFED_*)  <  flags
 *
 * Every setting has one name per source (see OPTION_SPECS), one parser and
 * one error message format naming where the bad value came from. Unknown
 * config keys and unknown flags are refused; unknown OTSFED_* variables are
 * left alone (other tools use the prefix).
 */
import {readFile} from "node:fs/promises";
import {checkPendingUri} from "../protocol/ots/attestations.ts";
import {CalendarError} from "../protocol/errors.ts";
import {defaultAggregatorOptions} from "./calendar/aggregator.ts";
import type {AggregatorOptions} from "./calendar/aggregator.ts";
import {defaultJournalOptions} from "./calendar/journal-store.ts";
import type {JournalOptions} from "./calendar/journal-store.ts";
import {defaultHttpOptions, parseListen} from "./http/options.ts";
import type {HttpOptions} from "./http/options.ts";
import {isLogLevel, LOG_LEVELS} from "./logger.ts";
import {defaultCoreRpcBackendOptions} from "./bitcoin/core-rpc.ts";
import type {LogLevel} from "./logger.ts";
import {defaultStamperOptions} from "./stamper/options.ts";
import type {StamperOptions} from "./stamper/options.ts";

/** Which Bitcoin node to use: Bitcoin Core's JSON-RPC when `rpcUrl` is set, none otherwise. */
export type BitcoinOptions = {
  rpcUrl: string | null;
  cookieFile: string | null;
  wallet: string;
};

export type NodeOptions = {
  /** Directory holding identity.key, journal/ and index/. */
  dataDir: string;
  logLevel: LogLevel;
  http: HttpOptions;
  journal: JournalOptions;
  aggregator: AggregatorOptions;
  bitcoin: BitcoinOptions;
  stamper: StamperOptions;
};

export function defaultNodeOptions(): NodeOptions {
  return {
    dataDir: "",
    logLevel: "info",
    http: {...defaultHttpOptions},
    journal: {...defaultJournalOptions},
    aggregator: {...defaultAggregatorOptions},
    bitcoin: {rpcUrl: null, cookieFile: null, wallet: defaultCoreRpcBackendOptions.wallet},
    stamper: {...defaultStamperOptions, fee: {...defaultStamperOptions.fee}},
  };
}

/** bitcoind's RPC URL: http(s) with a host, optionally user:password; no path beyond `/`. */
export function checkBitcoinRpcUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new Error("must be a URL like http://user:password@127.0.0.1:8332");
  }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || u.hostname === "" || (u.pathname !== "/" && u.pathname !== "")) {
    throw new Error("must be a URL like http://user:password@127.0.0.1:8332 (http or https, no path)");
  }
  return v;
}

export const OptionsErrorCode = {INVALID: "OPTIONS_INVALID"} as const;
export class OptionsError extends CalendarError<{code: typeof OptionsErrorCode.INVALID}> {
  constructor(message: string) {
    super({code: OptionsErrorCode.INVALID}, message);
  }
}

/** One setting: its names in the config file, the environment and on the command line. */
type OptionSpec = {
  key: string;
  env: string;
  flag: string;
  help: string;
  /** Parse a value (a string from env/flags, any JSON value from the file); throw a message string-bearing Error. */
  apply(opts: NodeOptions, value: unknown): void;
};

function str(v: unknown): string {
  if (typeof v !== "string" || v.length === 0) throw new Error("must be a non-empty string");
  return v;
}

function int(v: unknown, min: number, max: number): number {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`must be an integer from ${min} to ${max}`);
  return n;
}

/** A duration in milliseconds: a number (ms) or a string "250", "250ms", "2s". */
export function parseDurationMs(v: unknown): number {
  if (typeof v === "number") return int(v, 0, 3_600_000);
  if (typeof v === "string") {
    const m = /^(\d+)(ms|s)?$/.exec(v);
    if (m) return int(Number(m[1]) * (m[2] === "s" ? 1000 : 1), 0, 3_600_000);
  }
  throw new Error('must be a duration like 500, "500ms" or "2s" (at most 1 hour)');
}

/** A decimal number such as a feerate: a JSON number or a string "2", "0.1", "12.5". */
function decimal(v: unknown, min: number, max: number): number {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`must be a number from ${min} to ${max}`);
  return n;
}

const DURATION_UNIT_MS: Record<string, number> = {ms: 1, s: 1_000, m: 60_000, h: 3_600_000};

/** `1 s`, `7 days`: how a range bound reads in a message. */
function durationText(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} day${ms === 86_400_000 ? "" : "s"}`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}

/** `1h`, `2s`, `500ms`: a default as one would write it. */
function durationValue(ms: number): string {
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/**
 * A duration in milliseconds from `minMs` to `maxMs`: a number (ms) or a
 * string "500", "500ms", "30s", "10m", "1h". Unlike {@link parseDurationMs}
 * (round intervals, at most an hour) it takes minutes and hours, for
 * settings measured in those.
 */
export function parseDuration(v: unknown, minMs: number, maxMs: number): number {
  const m = typeof v === "string" ? /^(\d+)(ms|s|m|h)?$/.exec(v) : null;
  const n = typeof v === "number" ? v : m ? Number(m[1]) * (DURATION_UNIT_MS[m[2] ?? "ms"] as number) : NaN;
  if (!Number.isSafeInteger(n) || n < minMs || n > maxMs) {
    throw new Error(`must be a duration like 500ms, 30s, 10m, 1h or a number of ms, from ${durationText(minMs)} to ${durationText(maxMs)}`);
  }
  return n;
}

/** A calendar URL fit for Pending attestations: http(s), a bare origin, allowed characters only. */
export function checkCalendarUrl(v: string): string {
  if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(v)) throw new Error("must be a bare origin like https://calendar.example.net (no path, no trailing slash)");
  checkPendingUri(v);
  return v;
}

export const OPTION_SPECS: readonly OptionSpec[] = [
  {key: "dataDir", env: "OTSFED_DATA_DIR", flag: "--data-dir", help: "directory for identity.key, journal/ and index/ (required)", apply: (o, v) => void (o.dataDir = str(v))},
  {
    key: "listen",
    env: "OTSFED_LISTEN",
    flag: "--listen",
    help: `host:port of the HTTP API (default ${defaultHttpOptions.listen})`,
    apply: (o, v) => {
      if (!parseListen(str(v))) throw new Error("must be host:port, e.g. 127.0.0.1:14788");
      o.http.listen = v as string;
    },
  },
  {key: "url", env: "OTSFED_URL", flag: "--url", help: "public URL written into Pending attestations (default http://<listen>)", apply: (o, v) => void (o.http.url = checkCalendarUrl(str(v)))},
  {key: "roundInterval", env: "OTSFED_ROUND_INTERVAL", flag: "--round-interval", help: "minimum time between rounds, e.g. 0, 500ms, 1s (default 0)", apply: (o, v) => void (o.aggregator.roundIntervalMs = parseDurationMs(v))},
  {key: "maxQueue", env: "OTSFED_MAX_QUEUE", flag: "--max-queue", help: `digests waiting at most before 503 (default ${defaultAggregatorOptions.maxQueue})`, apply: (o, v) => void (o.aggregator.maxQueue = int(v, 1, 10_000_000))},
  {key: "segmentBytes", env: "OTSFED_SEGMENT_BYTES", flag: "--segment-bytes", help: `journal segment size (default ${defaultJournalOptions.segmentBytes})`, apply: (o, v) => void (o.journal.segmentBytes = int(v, 4096, 1 << 30))},
  {key: "bitcoinRpc", env: "OTSFED_BITCOIN_RPC", flag: "--bitcoin-rpc", help: "Bitcoin Core JSON-RPC URL, http://USER:PASS@HOST:PORT (default: no Bitcoin node)", apply: (o, v) => void (o.bitcoin.rpcUrl = checkBitcoinRpcUrl(str(v)))},
  {key: "bitcoinCookie", env: "OTSFED_BITCOIN_COOKIE", flag: "--bitcoin-cookie", help: "bitcoind's .cookie file, instead of a password in the URL", apply: (o, v) => void (o.bitcoin.cookieFile = str(v))},
  {
    key: "bitcoinWallet",
    env: "OTSFED_BITCOIN_WALLET",
    flag: "--bitcoin-wallet",
    help: `watch-only Core wallet for the stamping descriptor (default ${defaultCoreRpcBackendOptions.wallet})`,
    apply: (o, v) => {
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(str(v))) throw new Error("must be 1-64 characters from A-Z a-z 0-9 . _ -");
      o.bitcoin.wallet = v as string;
    },
  },
  // Stamping (node/stamper/): how often, how deep, and what fees it may pay.
  {
    key: "stampInterval",
    env: "OTSFED_STAMP_INTERVAL",
    flag: "--stamp-interval",
    help: `least time between two stamp transactions, e.g. 30s, 10m, 1h (default ${durationValue(defaultStamperOptions.intervalMs)})`,
    apply: (o, v) => void (o.stamper.intervalMs = parseDuration(v, 1_000, 7 * 86_400_000)),
  },
  {
    key: "confirmations",
    env: "OTSFED_CONFIRMATIONS",
    flag: "--confirmations",
    help: `blocks on top of a stamp before its proofs are served (default ${defaultStamperOptions.confirmations})`,
    apply: (o, v) => void (o.stamper.confirmations = int(v, 1, 100)),
  },
  {
    key: "feeTarget",
    env: "OTSFED_FEE_TARGET",
    flag: "--fee-target",
    help: `estimatesmartfee target for a stamp's first feerate, blocks (default ${defaultStamperOptions.confTarget})`,
    // 1008 blocks is the longest target estimatesmartfee accepts.
    apply: (o, v) => void (o.stamper.confTarget = int(v, 1, 1008)),
  },
  {
    key: "fallbackFeerate",
    env: "OTSFED_FALLBACK_FEERATE",
    flag: "--fallback-feerate",
    help: `first feerate when the node has no estimate, sat/vB (default ${defaultStamperOptions.fallbackFeeRate})`,
    apply: (o, v) => void (o.stamper.fallbackFeeRate = decimal(v, 0.1, 10_000)),
  },
  {
    key: "maxFeerate",
    env: "OTSFED_MAX_FEERATE",
    flag: "--max-feerate",
    help: `highest feerate a stamp may pay, reached at the fee deadline, sat/vB (default ${defaultStamperOptions.fee.maxFeeRate})`,
    apply: (o, v) => void (o.stamper.fee.maxFeeRate = decimal(v, 1, 10_000)),
  },
  {
    key: "maxFee",
    env: "OTSFED_MAX_FEE",
    flag: "--max-fee",
    help: `highest fee one stamp transaction may pay, satoshis (default ${defaultStamperOptions.fee.maxFeeSats})`,
    apply: (o, v) => void (o.stamper.fee.maxFeeSats = BigInt(int(v, 1_000, 100_000_000))),
  },
  {
    key: "feeDeadline",
    env: "OTSFED_FEE_DEADLINE",
    flag: "--fee-deadline",
    help: `blocks after a stamp's first broadcast by which its feerate reaches the maximum (default ${defaultStamperOptions.fee.deadlineBlocks})`,
    apply: (o, v) => void (o.stamper.fee.deadlineBlocks = int(v, 1, 2016)),
  },
  {
    key: "incrementalRelayFeerate",
    env: "OTSFED_INCREMENTAL_RELAY_FEERATE",
    flag: "--incremental-relay-feerate",
    help: `the Bitcoin node's -incrementalrelayfee, sat/vB: 1 before Core 30, 0.1 since (default ${defaultStamperOptions.fee.incrementalRelayFeeRate})`,
    apply: (o, v) => void (o.stamper.fee.incrementalRelayFeeRate = decimal(v, 0.1, 100)),
  },
  {
    key: "bitcoinPollInterval",
    env: "OTSFED_BITCOIN_POLL_INTERVAL",
    flag: "--bitcoin-poll-interval",
    help: `how often the Bitcoin node is asked for new blocks, e.g. 500ms, 2s (default ${durationValue(defaultStamperOptions.pollIntervalMs)})`,
    apply: (o, v) => void (o.stamper.pollIntervalMs = parseDuration(v, 100, 600_000)),
  },
  {
    key: "logLevel",
    env: "OTSFED_LOG_LEVEL",
    flag: "--log-level",
    help: `${LOG_LEVELS.join("|")} (default info)`,
    apply: (o, v) => {
      if (typeof v !== "string" || !isLogLevel(v)) throw new Error(`must be one of ${LOG_LEVELS.join(", ")}`);
      o.logLevel = v;
    },
  },
];

const CONFIG_FLAG = "--config";
const CONFIG_ENV = "OTSFED_CONFIG";

function applySpec(opts: NodeOptions, spec: OptionSpec, value: unknown, where: string): void {
  try {
    spec.apply(opts, value);
  } catch (e) {
    throw new OptionsError(`${where}: ${(e as Error).message}`);
  }
}

/** Split `--flag value` / `--flag=value` pairs; refuse unknown flags and positional arguments. */
export function parseFlags(args: readonly string[]): Map<string, string> {
  const known = new Set([CONFIG_FLAG, ...OPTION_SPECS.map((s) => s.flag)]);
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const eq = a.indexOf("=");
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (!known.has(flag)) throw new OptionsError(`unknown ${a.startsWith("-") ? "flag" : "argument"} '${flag}' (known: ${[...known].join(", ")})`);
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else {
      const next = args[i + 1];
      if (next === undefined) throw new OptionsError(`flag ${flag} needs a value`);
      value = next;
      i++;
    }
    out.set(flag, value);
  }
  return out;
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
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readText(configPath));
    } catch (e) {
      throw new OptionsError(`config file ${configPath}: ${(e as Error).message}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new OptionsError(`config file ${configPath}: must hold a JSON object`);
    for (const [key, value] of Object.entries(parsed)) {
      const spec = OPTION_SPECS.find((s) => s.key === key);
      if (!spec) throw new OptionsError(`config file ${configPath}: unknown key '${key}' (known: ${OPTION_SPECS.map((s) => s.key).join(", ")})`);
      applySpec(opts, spec, value, `config file ${configPath}: key '${key}'`);
    }
  }
  for (const spec of OPTION_SPECS) {
    const v = env[spec.env];
    if (v !== undefined) applySpec(opts, spec, v, `environment ${spec.env}`);
  }
  for (const spec of OPTION_SPECS) {
    const v = flags.get(spec.flag);
    if (v !== undefined) applySpec(opts, spec, v, `flag ${spec.flag}`);
  }

  if (opts.bitcoin.cookieFile !== null && opts.bitcoin.rpcUrl === null) throw new OptionsError("--bitcoin-cookie needs --bitcoin-rpc (the URL of the node the cookie is for)");
  if (opts.dataDir === "") throw new OptionsError(`no data directory: give --data-dir, ${OPTION_SPECS[0]?.env} or "dataDir" in the config file`);
  return opts;
}

/** A header and one line per setting, for `otsfed node --help-options` and the README. */
export function optionsHelp(): string {
  const rows: Array<readonly [string, string, string, string]> = [
    ["flag", "environment", "config key", "meaning"],
    [CONFIG_FLAG, CONFIG_ENV, "-", "JSON config file"],
    ...OPTION_SPECS.map((s) => [s.flag, s.env, s.key, s.help] as const),
  ];
  const width = (i: 0 | 1 | 2): number => Math.max(...rows.map((r) => r[i].length));
  const [wf, we, wk] = [width(0), width(1), width(2)];
  return rows.map(([f, e, k, h], i) => `${i === 0 ? "" : "  "}${f.padEnd(wf + (i === 0 ? 2 : 0))} ${e.padEnd(we)} ${k.padEnd(wk)} ${h}`).join("\n");
}
