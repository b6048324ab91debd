import {suite} from "uvu";
import * as assert from "uvu/assert";
import {execFile} from "node:child_process";
import {mkdtemp, rm, writeFile} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {detachedFile, encodeDetached, makeBitcoinProof, sha256} from "../../../protocol/ots/index.ts";
import {SimulatedBackend} from "../../../node/bitcoin/sim/backend.ts";
import {SimulatedChain} from "../../../node/bitcoin/sim/chain.ts";
import {SimulatedWallet} from "../../../node/bitcoin/sim/devnet-wallet.ts";
import {SimulatedRpcServer} from "../../../node/bitcoin/sim/rpc-server.ts";
import {SimulatedWatchWallets} from "../../../node/bitcoin/sim/watch-wallets.ts";
import {keyPairFromSeed, p2wpkhScript} from "../../../node/bitcoin/signing.ts";
import {buildStampTransaction} from "../../../node/anchor/stamp-tx.ts";
import {withTimeout} from "../../support/timeout.ts";

const CLI = fileURLToPath(new URL("../../../node/cli/otsfed.ts", import.meta.url));

function otsfed(args: string[], signal: AbortSignal): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], {signal}, (err, stdout, stderr) => {
      resolve({code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr});
    });
  });
}

// ---

const verify = suite("node/cli otsfed verify --bitcoin-rpc");

verify("should verify a proof against the simulated chain's JSON-RPC :: success, mismatch, missing block", withTimeout(60_000, async (signal) => {
  const dir = await mkdtemp(join(tmpdir(), "otsfed-verify-"));
  let now = Date.UTC(2025, 5, 1);
  const clock = {now: () => (now += 1000)};
  const chain = new SimulatedChain({}, {clock});
  const wallets = new SimulatedWatchWallets(chain, () => clock.now() / 1000);
  const server = new SimulatedRpcServer({}, {chain, wallets, clock});
  try {
    const key = keyPairFromSeed("verify-cli");
    const miner = p2wpkhScript(keyPairFromSeed("miner").publicKey);
    chain.mine(101, miner);
    const wallet = new SimulatedWallet(chain);
    const [coin] = wallet.fund(p2wpkhScript(key.publicKey), [50_000n]);
    const content = new TextEncoder().encode("stamped by a test\n");
    const digest = sha256(content);
    const height = chain.tip().height;
    const stamp = buildStampTransaction({input: {txid: coin!.txid, vout: coin!.vout, valueSats: coin!.value}, key, root: digest, feeRate: 2, lockTime: height});
    const backend = new SimulatedBackend({wallet: "w"}, {chain, wallets});
    await backend.sendRawTransaction(stamp.tx, signal);
    const [mined] = chain.mine(1, miner);
    const block = await backend.getBlock(mined!.hash, signal);
    const proof = makeBitcoinProof({txNoWitness: stamp.txNoWitness, msg: digest, blockTxids: block.txids, height: block.height});
    await writeFile(join(dir, "doc.txt"), content);
    await writeFile(join(dir, "doc.txt.ots"), encodeDetached(detachedFile("sha256", proof.timestamp)));
    await server.start();

    const ok = await otsfed(["verify", join(dir, "doc.txt.ots"), "--bitcoin-rpc", server.url], signal);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`Success! Bitcoin block ${block.height} attests existence as of 2025-06-01 UTC`));

    // The same proof claimed at another height does not match that header.
    const wrongHeight = makeBitcoinProof({txNoWitness: stamp.txNoWitness, msg: digest, blockTxids: block.txids, height: block.height - 1});
    await writeFile(join(dir, "wrong.ots"), encodeDetached(detachedFile("sha256", wrongHeight.timestamp)));
    const bad = await otsfed(["verify", join(dir, "wrong.ots"), "--target", join(dir, "doc.txt"), "--bitcoin-rpc", server.url], signal);
    assert.is(bad.code, 1);
    assert.match(bad.stderr, /Bitcoin verification failed: Digest does not match merkleroot/);

    const future = makeBitcoinProof({txNoWitness: stamp.txNoWitness, msg: digest, blockTxids: block.txids, height: block.height + 5});
    await writeFile(join(dir, "future.ots"), encodeDetached(detachedFile("sha256", future.timestamp)));
    const missing = await otsfed(["verify", join(dir, "future.ots"), "--target", join(dir, "doc.txt"), "--bitcoin-rpc", server.url], signal);
    assert.is(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`Bitcoin block height ${block.height + 5} not found; ${block.height} is highest known block`));

    await server.stop();
    const down = await otsfed(["verify", join(dir, "doc.txt.ots"), "--bitcoin-rpc", server.url], signal);
    assert.is(down.code, 1);
    assert.match(down.stderr, /^otsfed verify: Bitcoin node: .+\n$/);
  } finally {
    await server.stop();
    await rm(dir, {recursive: true, force: true});
  }
}));

verify.run();
