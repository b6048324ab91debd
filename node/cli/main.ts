/**
 * The `otsfed` command line as a function: argv in, exit code out, every
 * known failure one line on stderr. node/cli/otsfed.ts runs it on
 * `process.argv`; tests call it in process.
 *
 * Exit codes (README "Commands"): 0 success; 1 a failed check, a bad file
 * or a refused start; 2 a usage error (a refused option or federation
 * definition). A known failure is printed as
 *
 *   otsfed <command>: CODE: message     a typed error (CalendarError, its `code`)
 *   otsfed <command>: message           the CLI's own usage and input errors (CliError)
 *   otsfed <command>: ECODE: message    an operating-system error (no such file, no permission, …)
 *
 * and anything else is a bug: it propagates, with its stack.
 */
import {CalendarError} from "../../protocol/errors.ts";
import {OptionsError} from "../config/option-spec.ts";
import {wrapText} from "../config/text.ts";
import {FederationError} from "../federation/definition.ts";
import {CliError} from "./command.ts";
import type {Command, CommandIo} from "./command.ts";
import {COMMANDS} from "./commands/index.ts";

/** `otsfed --help`: each command's usage, then its summary wrapped to 80 columns. */
export function helpText(): string {
  const lines = ["usage: otsfed <command> [options]", "", "commands:"];
  for (const c of COMMANDS) lines.push(wrapText(c.usage, "      ", undefined, "  "), wrapText(c.summary, "      "));
  return lines.join("\n");
}

/** `otsfed <command> --help`. */
export function commandHelpText(cmd: Command): string {
  return `${wrapText(cmd.usage, "         ", undefined, "usage: otsfed ")}\n${wrapText(cmd.summary, "")}`;
}

/** An operating-system error as node raises it (ENOENT, EACCES, …): known, not a bug. */
function isSystemError(e: unknown): e is NodeJS.ErrnoException & {code: string; syscall: string} {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string" && typeof (e as NodeJS.ErrnoException).syscall === "string";
}

/**
 * The one line and exit code for a known failure of `command`, or null for
 * a bug (which the caller rethrows).
 */
export function describeFailure(command: string, e: unknown): {line: string; exitCode: number} | null {
  if (e instanceof CliError) return {line: `otsfed ${command}: ${e.message}`, exitCode: e.exitCode};
  // A refused setting or command line is a usage error, and so is a refused federation definition (the
  // operator's input, like an option); every other typed error a failed check or a refused start.
  if (e instanceof OptionsError || e instanceof FederationError) return {line: `otsfed ${command}: ${e.code}: ${e.message}`, exitCode: 2};
  if (e instanceof CalendarError) return {line: `otsfed ${command}: ${e.code}: ${e.message}`, exitCode: 1};
  if (isSystemError(e)) return {line: `otsfed ${command}: ${e.code}: ${e.message}`, exitCode: 1};
  return null;
}

/** Run one command, turning its known failures into one line and an exit code. */
export async function runCommand(cmd: Command, args: string[], io: CommandIo): Promise<number> {
  try {
    return await cmd.run(args, io);
  } catch (e) {
    const failure = describeFailure(cmd.name, e);
    if (failure === null) throw e;
    io.stderr(failure.line);
    return failure.exitCode;
  }
}

/** `otsfed ARGV`: the exit code. */
export async function main(argv: string[], io: CommandIo): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    io.stdout(helpText());
    return argv.length === 0 ? 2 : 0;
  }
  // Longest match first, so `journal verify` wins over a `journal` command.
  const cmd = [...COMMANDS].sort((a, b) => b.name.length - a.name.length).find((c) => c.name.split(" ").every((w, i) => argv[i] === w));
  if (!cmd) {
    io.stderr(`otsfed: unknown command '${argv[0]}' (see 'otsfed --help')`);
    return 2;
  }
  const args = argv.slice(cmd.name.split(" ").length);
  if (args.includes("--help") || args.includes("-h")) {
    io.stdout(commandHelpText(cmd));
    return 0;
  }
  return runCommand(cmd, args, io);
}
