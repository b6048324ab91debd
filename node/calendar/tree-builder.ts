/**
 * Stamp trees without stalling the calendar: hashing a million-leaf tree
 * takes over a second, during which a single-threaded node would answer no
 * digest and serve no proof. Trees past a threshold are hashed on a worker
 * thread (tree-worker.ts), one per build (the ~30 ms start-up is nothing next
 * to the hashing), while the event loop keeps serving; small ones inline.
 */
import {Worker} from "node:worker_threads";
import {FlatMerkleTree} from "../../protocol/ots/flat-merkle.ts";
import {nativeSha256} from "../hash.ts";
import {StoreError, StoreErrorCode} from "./errors.ts";

/** Below this many leaves a tree is hashed inline (a few milliseconds). */
export const OFF_THREAD_LEAVES = 16_384;

function hashOffThread(leaves: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./tree-worker.ts", import.meta.url));
    const done = (): void => void worker.terminate();
    worker.once("message", (upper: Uint8Array) => {
      done();
      resolve(upper);
    });
    worker.once("error", (e) => {
      done();
      reject(e);
    });
    worker.once("exit", (code) => reject(new StoreError({code: StoreErrorCode.TREE_WORKER_FAILED}, `tree worker exited with code ${code} before answering`)));
    // Copied, not transferred: the caller keeps the leaves as the tree's level 0.
    worker.postMessage(leaves);
  });
}

/** The OpenTimestamps merkle tree over `leaves` (n × 32 bytes, kept as level 0). */
export async function buildMerkleTree(leaves: Uint8Array): Promise<FlatMerkleTree> {
  if (leaves.length / 32 < OFF_THREAD_LEAVES) return new FlatMerkleTree(leaves, nativeSha256);
  return new FlatMerkleTree(leaves, nativeSha256, await hashOffThread(leaves));
}
