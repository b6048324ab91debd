/**
 * The small injected dependencies of the Bitcoin modules (STYLE.md §10, §13).
 *
 * `Logger` is the subset of the node's logger (`node/logger.ts`) these
 * modules call, so both the node's pino logger and plain test doubles fit;
 * `Clock` is the node's clock type.
 */
import type {Logger as NodeLogger} from "../logger.ts";

export type {Clock} from "../clock.ts";
export {systemClock} from "../clock.ts";

/** Structured logger: context in an object, never interpolated into the message. */
export type Logger = Pick<NodeLogger, "error" | "warn" | "info" | "verbose" | "debug">;

/** A logger that drops everything (tests, library use). */
export const nullLogger: Logger = {
  error: () => {},
  warn: () => {},
  info: () => {},
  verbose: () => {},
  debug: () => {},
};
