/**
 * Worker-thread entry of tree-builder.ts: hashes the levels above the
 * leaves it is sent and sends them back (transferred, not copied).
 */
import {parentPort} from "node:worker_threads";
import {hashUpperLevels} from "../../protocol/ots/flat-merkle.ts";
import {nativeSha256} from "../hash.ts";

const port = parentPort;
if (port === null) throw new Error("tree-worker.ts runs only as a worker thread");
port.on("message", (leaves: Uint8Array) => {
  const upper = hashUpperLevels(leaves, nativeSha256);
  port.postMessage(upper, [upper.buffer as ArrayBuffer]);
});
