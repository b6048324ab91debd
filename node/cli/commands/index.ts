import type {Command} from "../command.ts";
import {infoCommand} from "./info.ts";
import {verifyCommand} from "./verify.ts";
import {nodeCommand} from "./node.ts";
import {journalVerifyCommand} from "./journal-verify.ts";
import {reindexCommand} from "./reindex.ts";
import {devnetCommand} from "./devnet.ts";
import {aggregatorCommand} from "./aggregator.ts";

/** Every `otsfed` subcommand, in the order `otsfed --help` lists them. */
export const COMMANDS: readonly Command[] = [devnetCommand, nodeCommand, aggregatorCommand, infoCommand, verifyCommand, journalVerifyCommand, reindexCommand];
