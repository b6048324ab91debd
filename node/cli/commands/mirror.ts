/**
 * `otsfed mirror --federation FILE --data-dir DIR [...]`: `otsfed node
 * --mirror-only true` under its own name. A mirror follows every calendar
 * of the federation and answers `GET /timestamp` for all of them, with no
 * calendar of its own: it takes no digests. Every node setting applies.
 */
import type {Command} from "../command.ts";
import {nodeCommand} from "./node.ts";

export const mirrorCommand: Command = {
  name: "mirror",
  usage: "mirror --federation FILE --data-dir DIR [--listen HOST:PORT] [--p2p-listen ADDR,...] [...]",
  summary: "follow every calendar of a federation and answer for them, taking no digests (otsfed node --mirror-only true)",
  run: (args, io) => nodeCommand.run([...args, "--mirror-only", "true"], io),
};
