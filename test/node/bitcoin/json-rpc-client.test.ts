import {suite} from "uvu";
import * as assert from "uvu/assert";
import {createServer} from "node:http";
import type {AddressInfo} from "node:net";
import {BitcoinError, BitcoinErrorCode} from "../../../node/bitcoin/errors.ts";
import {JsonRpcClient} from "../../../node/bitcoin/json-rpc-client.ts";
import {withTimeout} from "../../support/timeout.ts";

// ---
const client = suite("node/bitcoin/json-rpc-client JsonRpcClient");

client("should refuse a reply over its size limit without buffering it :: endless body", withTimeout(10_000, async (signal) => {
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.writeHead(200, {"Content-Type": "application/json"});
    // A broken endpoint that never stops sending.
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once("drain", pump);
    };
    res.write("{\"result\":\"");
    pump();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const {port} = server.address() as AddressInfo;
    const c = new JsonRpcClient({url: `http://u:p@127.0.0.1:${port}`, cookieFile: null, timeoutMs: 5_000, maxReplyBytes: 1 << 20});
    try {
      await c.call("getblockchaininfo", [], signal);
      assert.unreachable("an endless reply was accepted");
    } catch (e) {
      assert.ok(e instanceof BitcoinError && e.code === BitcoinErrorCode.BAD_RESPONSE, String(e));
      assert.match((e as Error).message, /reply over 1048576 bytes/);
    } finally {
      c.close();
    }
    assert.is(requests, 1, "refused, not retried");
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}));

client("should refuse settings that cannot work with a typed error :: https, no credentials", () => {
  for (const [url, cookieFile] of [["https://u:p@127.0.0.1:8332", null], ["http://127.0.0.1:8332", null]] as const) {
    assert.throws(() => new JsonRpcClient({url, cookieFile, timeoutMs: 1000}), (e: unknown) => e instanceof BitcoinError && e.code === BitcoinErrorCode.BAD_CONFIG, url);
  }
});

client.run();
