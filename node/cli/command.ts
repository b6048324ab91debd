/**
 * The shape of an `otsfed` subcommand. Each lives in `commands/<name>.ts`
 * and is listed in `commands/index.ts`.
 */
export type CommandIo = {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
};

export type Command = {
  /** One or two words, e.g. `info` or `journal verify`. */
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  /** Returns the process exit code. Throwing is reserved for bugs. */
  run(args: string[], io: CommandIo): Promise<number>;
};

/** A usage or input problem: printed as one line, exit code 2 (or `exitCode`). */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}
