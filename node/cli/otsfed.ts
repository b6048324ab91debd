#!/usr/bin/env node
/**
 * `otsfed`: the command-line entry point. Runs {@link main} (node/cli/main.ts)
 * on the process's arguments and sets the exit code it returns.
 */
import type {CommandIo} from "./command.ts";
import {main} from "./main.ts";

const io: CommandIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

process.exitCode = await main(process.argv.slice(2), io);
