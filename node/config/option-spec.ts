/**
 * One setting of the node, as a row: its names in the config file, the
 * environment and on the command line, its help line, and how a value is
 * parsed into the options object it configures (STYLE §11). Each module
 * exports the rows for its own options type next to that type and its
 * defaults; `node/options.ts` scopes them onto its part of the node's
 * options and does the layering.
 *
 * Every refusal has one format, naming where the value came from:
 * `<source>: <what the value must be>`, e.g.
 * `config file x.json: key 'maxQueue': must be an integer from 1 to 10000000`.
 */
import {CalendarError} from "../../protocol/errors.ts";

/** One setting, read into a `T` (a module's options object). */
export type OptionSpec<T> = {
  /** Key in the JSON config file, e.g. `maxQueue`. */
  readonly key: string;
  /** Environment variable, e.g. `OTSFED_MAX_QUEUE`. */
  readonly env: string;
  /** Command-line flag, e.g. `--max-queue`. */
  readonly flag: string;
  /** One line for `--help-options`, with the default. */
  readonly help: string;
  /**
   * The flag may be given several times (`--upstream A --upstream B`): the
   * row is then applied once with every value, in order, as a string
   * array. The environment and the config file give one value as usual (a
   * list in the row's own format, e.g. comma-separated, or a JSON array).
   */
  readonly repeatable?: boolean;
  /**
   * Parse `value` (a string from the environment or a flag, any JSON value
   * from the config file) into `target`; refuse it with an
   * {@link OptionsError} (or any typed error) whose message says what the
   * value must be.
   */
  apply(target: T, value: unknown): void;
};

/** Why options were refused: the `OPTIONS_…` codes. */
export const OptionsErrorCode = {
  /** A value a setting refuses. */
  BAD_VALUE: "OPTIONS_BAD_VALUE",
  /** A config key, flag or argument no setting has. */
  UNKNOWN: "OPTIONS_UNKNOWN",
  /** A flag at the end of the command line, without its value. */
  MISSING_VALUE: "OPTIONS_MISSING_VALUE",
  /** The config file cannot be read, is not JSON, or not a JSON object. */
  BAD_CONFIG_FILE: "OPTIONS_BAD_CONFIG_FILE",
  /** A required setting is given nowhere. */
  REQUIRED: "OPTIONS_REQUIRED",
  /** Settings that make no sense together. */
  CONFLICT: "OPTIONS_CONFLICT",
} as const;
export type OptionsErrorCode = (typeof OptionsErrorCode)[keyof typeof OptionsErrorCode];

/** A refused setting or command line; the message names the source and says what is wrong. */
export class OptionsError extends CalendarError<{code: OptionsErrorCode}> {
  constructor(code: OptionsErrorCode, message: string) {
    super({code}, message);
  }
}

/** Refuse a value: what it must be, without the source (added by {@link applyOption}). */
export function badValue(mustBe: string): OptionsError {
  return new OptionsError(OptionsErrorCode.BAD_VALUE, mustBe);
}

/**
 * The rows of one module, scoped onto its part of a larger options object:
 * `scopeOptions(httpOptionSpecs, (o: NodeOptions) => o.http)`.
 */
export function scopeOptions<Whole, Part>(specs: readonly OptionSpec<Part>[], part: (whole: Whole) => Part): OptionSpec<Whole>[] {
  return specs.map((s) => ({key: s.key, env: s.env, flag: s.flag, help: s.help, ...(s.repeatable ? {repeatable: true} : {}), apply: (whole: Whole, value: unknown) => s.apply(part(whole), value)}));
}

/** Where a value came from, as refusals name it. */
export const optionSource = {
  configKey: (path: string, key: string): string => `config file ${path}: key '${key}'`,
  env: (name: string): string => `environment ${name}`,
  flag: (flag: string): string => `flag ${flag}`,
} as const;

/**
 * Apply one value, turning a refusal into the one message format
 * `<source>: <reason>`. Only typed errors are refusals; anything else is a
 * bug in the row and propagates as it is.
 */
export function applyOption<T>(target: T, spec: OptionSpec<T>, value: unknown, source: string): void {
  try {
    spec.apply(target, value);
  } catch (e) {
    if (e instanceof CalendarError) throw new OptionsError(OptionsErrorCode.BAD_VALUE, `${source}: ${e.message}`);
    throw e;
  }
}
