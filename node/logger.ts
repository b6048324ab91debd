/**
 * The logging interface every module takes (STYLE §13), and its pino
 * backend. Context goes in an object, never into the message; peer-supplied
 * bytes are logged as truncated hex only.
 *
 * Level policy: error = the node cannot do its job (journal I/O failed,
 * corruption); warn = it recovered from something an operator should know
 * (torn tail cut, index rebuilt, overload); info = lifecycle (start, stop,
 * listening, segment sealed); verbose = per-round summaries; debug = per
 * request detail.
 */
import {pino} from "pino";
import type {DestinationStream} from "pino";
import {badValue} from "./config/option-spec.ts";
import type {OptionSpec} from "./config/option-spec.ts";

export type LogContext = Record<string, unknown>;
export type LogFn = (msg: string, context?: LogContext, err?: Error) => void;
export type Logger = {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  verbose: LogFn;
  debug: LogFn;
  child(bindings: LogContext): Logger;
};

export const LOG_LEVELS = ["error", "warn", "info", "verbose", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

/** `--log-level`, read into whatever holds the node's `logLevel`. */
export const logLevelOptionSpec: OptionSpec<{logLevel: LogLevel}> = {
  key: "logLevel",
  env: "OTSFED_LOG_LEVEL",
  flag: "--log-level",
  help: `${LOG_LEVELS.join("|")} (default info)`,
  apply: (o, v) => {
    if (typeof v !== "string" || !isLogLevel(v)) throw badValue(`must be one of ${LOG_LEVELS.join(", ")}`);
    o.logLevel = v;
  },
};

type PinoLike = {
  [K in "error" | "warn" | "info" | "verbose" | "debug"]: (obj: object, msg: string) => void;
} & {child(bindings: object): PinoLike};

function wrap(p: PinoLike): Logger {
  const fn =
    (level: LogLevel): LogFn =>
    (msg, context, err) => {
      const obj: Record<string, unknown> = context ? {...context} : {};
      if (err) obj.err = err;
      p[level](obj, msg);
    };
  return {
    error: fn("error"),
    warn: fn("warn"),
    info: fn("info"),
    verbose: fn("verbose"),
    debug: fn("debug"),
    child: (bindings) => wrap(p.child(bindings)),
  };
}

/** JSON lines on `destination` (stdout by default), pino's format with an extra `verbose` level (25). */
export function createPinoLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const p = pino(
    {
      level,
      customLevels: {verbose: 25},
      base: {name: "otsfed"},
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {level: (label: string) => ({level: label})},
    },
    // Synchronous writes: nothing is lost at exit, and per-request lines are debug only.
    destination ?? pino.destination({dest: 1, sync: true}),
  );
  return wrap(p as unknown as PinoLike);
}

const noop: LogFn = () => {};

/** A logger that drops everything (tests, library use). */
export const nullLogger: Logger = {error: noop, warn: noop, info: noop, verbose: noop, debug: noop, child: () => nullLogger};
