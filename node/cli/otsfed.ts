#!/usr/bin/env node
/**
 * `otsfed`: the command-line entry point. Maps argv to a subcommand, prints
 * typed errors as one line, and owns the process exit code.
 */
import {COMMANDS} from "./commands/index.ts";
import {CliError} from "./command.ts";
import type {CommandIo} from "./command.ts";
import {CalendarError} from "../../protocol/errors.ts";

const io: CommandIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  return ["usage: otsfed <command> [options]", "", "commands:", ...COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`)].join("\n");
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    io.stdout(help());
    return argv.length === 0 ? 2 : 0;
  }
  // Longest match first, so `journal verify` wins over a `journal` command.
  const cmd = [...COMMANDS].sort((a, b) => b.name.length - a.name.length).find((c) => {
    const words = c.name.split(" ");
    return words.every((w, i) => argv[i] === w);
  });
  if (!cmd) {
    io.stderr(`otsfed: unknown command '${argv[0]}' (see 'otsfed --help')`);
    return 2;
  }
  const args = argv.slice(cmd.name.split(" ").length);
  if (args.includes("--help") || args.includes("-h")) {
    io.stdout(`usage: otsfed ${cmd.usage}\n${cmd.summary}`);
    return 0;
  }
  try {
    return await cmd.run(args, io);
  } catch (e) {
    if (e instanceof CliError) {
      io.stderr(`otsfed ${cmd.name}: ${e.message}`);
      return e.exitCode;
    }
    if (e instanceof CalendarError) {
      io.stderr(`otsfed ${cmd.name}: ${e.code}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = await main(process.argv.slice(2));
