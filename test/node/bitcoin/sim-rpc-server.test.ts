import {suite} from "uvu";
import * as assert from "uvu/assert";
import {request} from "node:http";
import {SimulatedChain} from "../../../node/bitcoin/sim/chain.ts";
import {SimulatedRpcServer} from "../../../node/bitcoin/sim/rpc-server.ts";
import {SimulatedWatchWallets} from "../../../node/bitcoin/sim/watch-wallets.ts";
import {withTimeout} from "../../support/timeout.ts";
import {testClock} from "./helpers.ts";

type Reply = {status: number; json: unknown};

function post(port: number, body: unknown, auth = "alice:pw", path = "/"): Promise<Reply> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({host: "127.0.0.1", port, path, method: "POST", headers: {"Content-Type": "application/json", Authorization: `Basic ${Buffer.from(auth).toString("base64")}`}}, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const s = Buffer.concat(chunks).toString("utf8");
        resolve({status: res.statusCode ?? 0, json: s === "" ? null : JSON.parse(s)});
      });
    });
    req.on("error", reject);
    req.end(text);
  });
}

async function withServer(fn: (port: number, chain: SimulatedChain) => Promise<void>): Promise<void> {
  const clock = testClock();
  const chain = new SimulatedChain({}, {clock});
  const server = new SimulatedRpcServer({user: "alice", password: "pw"}, {chain, wallets: new SimulatedWatchWallets(chain, () => clock.now() / 1000), clock});
  await server.start();
  try {
    await fn(server.port, chain);
  } finally {
    await server.stop();
  }
}

const rpc = suite("node/bitcoin/sim SimulatedRpcServer");

rpc("should answer what ots verify uses :: getblockcount, getblockhash (-8), raw getblockheader", withTimeout(10_000, () => withServer(async (port) => {
  const gen = await post(port, {version: "1.1", id: 1, method: "generatetoaddress", params: [3, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"]});
  assert.is(gen.status, 200);
  const hashes = (gen.json as {result: string[]}).result;
  assert.is(hashes.length, 3);
  assert.equal(await post(port, {version: "1.1", id: 2, method: "getblockcount", params: []}), {status: 200, json: {result: 3, error: null, id: 2}});
  const out = await post(port, {id: 3, method: "getblockhash", params: [4]});
  assert.equal(out, {status: 500, json: {result: null, error: {code: -8, message: "Block height out of range"}, id: 3}});
  const hash = ((await post(port, {id: 4, method: "getblockhash", params: [3]})).json as {result: string}).result;
  assert.is(hash, hashes[2]);
  const raw = (await post(port, {id: 5, method: "getblockheader", params: [hash, false]})).json as {result: string};
  assert.match(raw.result, /^[0-9a-f]{160}$/);
  const verbose = (await post(port, {id: 6, method: "getblockheader", params: {blockhash: hash}})).json as {result: Record<string, unknown>};
  assert.is(verbose.result.height, 3);
  assert.is(verbose.result.confirmations, 1);
  assert.is(verbose.result.previousblockhash, hashes[1]);
})));

rpc("should speak bitcoind's HTTP dialect :: batch, JSON-RPC 2.0, 401, 404 method, wallet path", withTimeout(10_000, () => withServer(async (port) => {
  const batch = await post(port, [{id: "a", method: "getblockcount"}, {id: "b", method: "nope"}]);
  assert.is(batch.status, 200);
  assert.equal(batch.json, [{result: 0, error: null, id: "a"}, {result: null, error: {code: -32601, message: "Method not found"}, id: "b"}]);
  assert.is((await post(port, {id: 1, method: "nope"})).status, 404);
  assert.equal(await post(port, {jsonrpc: "2.0", id: 7, method: "getblockcount"}), {status: 200, json: {jsonrpc: "2.0", result: 0, id: 7}});
  const denied = await post(port, {id: 1, method: "getblockcount"}, "alice:wrong");
  assert.equal(denied, {status: 401, json: null});
  const noWallet = await post(port, {id: 1, method: "listunspent", params: []}, "alice:pw", "/wallet/missing");
  assert.equal(noWallet.json, {result: null, error: {code: -18, message: "Requested wallet does not exist or is not loaded"}, id: 1});
})));

rpc("should reorg on demand over RPC :: invalidateblock and reconsiderblock", withTimeout(10_000, () => withServer(async (port, chain) => {
  const addr = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
  const first = ((await post(port, {id: 1, method: "generatetoaddress", params: [3, addr]})).json as {result: string[]}).result;
  await post(port, {id: 2, method: "invalidateblock", params: [first[1]]});
  assert.is(chain.height(), 1);
  const header = ((await post(port, {id: 3, method: "getblockheader", params: [first[2]]})).json as {result: {confirmations: number}}).result;
  assert.is(header.confirmations, -1);
  await post(port, {id: 4, method: "generatetoaddress", params: [1, addr]});
  await post(port, {id: 5, method: "reconsiderblock", params: [first[1]]});
  assert.is(chain.tip().id, first[2], "the longer old branch is active again");
})));

rpc.run();
