import type {Command} from "../command.ts";
import {infoCommand} from "./info.ts";
import {verifyCommand} from "./verify.ts";
import {nodeCommand} from "./node.ts";
import {journalVerifyCommand} from "./journal-verify.ts";
import {reindexCommand} from "./reindex.ts";
import {devnetCommand} from "./devnet.ts";
import {identityCommand} from "./identity.ts";
import {federationInitCommand} from "./federation-init.ts";
import {federationAddMemberCommand} from "./federation-add-member.ts";
import {federationShowCommand} from "./federation-show.ts";
import {mirrorCommand} from "./mirror.ts";
import {aggregatorCommand} from "./aggregator.ts";

/** Every `otsfed` subcommand, in the order `otsfed --help` lists them. */
export const COMMANDS: readonly Command[] = [
  devnetCommand,
  nodeCommand,
  mirrorCommand,
  aggregatorCommand,
  identityCommand,
  federationInitCommand,
  federationAddMemberCommand,
  federationShowCommand,
  infoCommand,
  verifyCommand,
  journalVerifyCommand,
  reindexCommand,
];
