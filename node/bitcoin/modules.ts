/**
 * The small injected dependencies of the Bitcoin modules (STYLE.md §10, §13).
 *
 * `node/logger.ts` did not exist when these modules were written, so the
 * logger interface is declared here with the project-wide shape; when a shared
 * one lands, this type is structurally identical and can re-export it.
 */

/** Structured logger: context in an object, never interpolated into the message. */
export type Logger = {
  error(msg: string, context?: Record<string, unknown>, err?: Error): void;
  warn(msg: string, context?: Record<string, unknown>, err?: Error): void;
  info(msg: string, context?: Record<string, unknown>, err?: Error): void;
  verbose(msg: string, context?: Record<string, unknown>, err?: Error): void;
  debug(msg: string, context?: Record<string, unknown>, err?: Error): void;
};

/** Injected wall clock in milliseconds since the Unix epoch. */
export type Clock = {now(): number};

/** A logger that drops everything (tests, library use). */
export const nullLogger: Logger = {
  error: () => {},
  warn: () => {},
  info: () => {},
  verbose: () => {},
  debug: () => {},
};

/** The process clock. */
export const systemClock: Clock = {now: () => Date.now()};
