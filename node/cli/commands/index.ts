import type {Command} from "../command.ts";
import {infoCommand} from "./info.ts";
import {verifyCommand} from "./verify.ts";

/** Every `otsfed` subcommand, in the order `otsfed --help` lists them. */
export const COMMANDS: readonly Command[] = [infoCommand, verifyCommand];
