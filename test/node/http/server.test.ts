import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {connect} from "node:net";
import type {Socket} from "node:net";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {pending} from "../../../protocol/ots/attestations.ts";
import {withTimeout} from "../../support/timeout.ts";
import {getTimestamp, postDigest, proofLeaf, removeDir, startNode, tempDir, testOptions} from "../calendar/support.ts";
import {checkMalformedRequests} from "./malformed-requests.ts";
import type {NodeOptions} from "../../../node/options.ts";
import type {CalendarNode} from "../../../node/node.ts";
import {HttpError} from "../../../node/http/errors.ts";
import {ApiServer} from "../../../node/http/server.ts";
import {apiRoutes} from "../../../node/http/routes/index.ts";
import type {ApiRouteModules} from "../../../node/http/routes/index.ts";
import type {ApiModules} from "../../../node/http/server.ts";

/** The calendar's route modules over fakes, with the server's logger and metrics. */
type TestModules = ApiRouteModules & Omit<ApiModules, "routes">;
import {nullLogger} from "../../../node/logger.ts";

async function withNode(patch: (o: NodeOptions) => void, fn: (url: string, node: CalendarNode) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  try {
    const {node, url} = await startNode(testOptions(dir, patch));
    try {
      await fn(url, node);
    } finally {
      await node.stop();
    }
  } finally {
    await removeDir(dir);
  }
}

// ---
const Api = suite("node/http/server ApiServer");

Api("should stamp a digest and report its commitment pending :: otsd status, reason, headers", withTimeout(20_000, async () => {
  await withNode(() => {}, async (url) => {
    const digest = new Uint8Array(randomBytes(32));
    const r = await postDigest(url, digest);
    assert.is(r.status, 200);
    assert.is(r.headers.get("content-type"), "application/octet-stream");
    assert.is(r.headers.get("access-control-allow-origin"), "*");
    assert.is(r.headers.get("access-control-allow-methods"), "POST GET");
    assert.is(r.headers.get("cache-control"), null);
    const leaf = proofLeaf(r.body, digest);
    assert.equal(leaf.attestations, [pending(url)]);
    const g = await getTimestamp(url, leaf.msg);
    assert.is(g.status, 404);
    assert.is(g.text, "Pending confirmation in Bitcoin blockchain");
    assert.is(g.headers.get("cache-control"), "public, max-age=60");
    assert.is(g.headers.get("content-type"), "text/plain");
    // Upper-case hex is the same message.
    const up = await fetch(`${url}/timestamp/${toHex(leaf.msg).toUpperCase()}`);
    assert.is(await up.text(), "Pending confirmation in Bitcoin blockchain");
    const other = Uint8Array.from(leaf.msg);
    other[3] = (other[3] as number) ^ 1;
    const nf = await getTimestamp(url, other);
    assert.is(nf.status, 404);
    assert.is(nf.text, "Not found");
    // Empty and 64-byte digests are accepted, as otsd does.
    assert.is((await postDigest(url, new Uint8Array(0))).status, 200);
    assert.is((await postDigest(url, new Uint8Array(64))).status, 200);
  });
}));

Api("should answer the other routes as otsd does :: tip, status HTML and JSON, healthz, metrics, unknown paths, OPTIONS", withTimeout(20_000, async () => {
  await withNode(() => {}, async (url) => {
    await postDigest(url, new Uint8Array(32));
    const tip = await fetch(`${url}/tip`);
    assert.is(tip.status, 404);
    assert.is(await tip.text(), "");
    const html = await fetch(`${url}/`);
    assert.is(html.status, 200);
    assert.ok(html.headers.get("content-type")?.startsWith("text/html"));
    assert.is(html.headers.get("cache-control"), "public, max-age=5");
    assert.is(html.headers.get("vary"), "Accept");
    assert.ok((await html.text()).includes("Pending commitments"));
    const json = await fetch(`${url}/`, {headers: {Accept: "application/json"}});
    assert.is(json.headers.get("content-type"), "application/json");
    const s = (await json.json()) as Record<string, unknown>;
    assert.is(s.pending_commitments, 1);
    assert.is(s.uri, url);
    assert.is(typeof s.version, "string");
    const h = await fetch(`${url}/healthz`);
    assert.is(h.status, 200);
    assert.is(await h.text(), "ok");
    const m = await fetch(`${url}/metrics`);
    const text = await m.text();
    for (const name of ["calendar_http_requests_total", "calendar_round_digests", "calendar_round_duration_seconds", "calendar_journal_bytes", "calendar_aggregator_queue_depth"]) assert.ok(text.includes(name), name);
    assert.ok(/calendar_http_requests_total\{route="digest",status="2xx"\} 1/.test(text));
    const g = await fetch(`${url}/nope`);
    assert.is(g.status, 404);
    assert.is(await g.text(), "Not found");
    assert.is(g.headers.get("cache-control"), "public, max-age=3600");
    const p = await fetch(`${url}/nope`, {method: "POST", body: "x"});
    assert.is(p.status, 404);
    assert.is(await p.text(), "not found");
    const o = await fetch(`${url}/digest`, {method: "OPTIONS"});
    assert.is(o.status, 204);
    assert.is(o.headers.get("access-control-allow-origin"), "*");
    const d = await fetch(`${url}/digest`, {method: "DELETE"});
    assert.is(d.status, 405);
  });
}));

Api("should refuse every malformed request with a 4xx and a reason :: raw sockets", withTimeout(30_000, async () => {
  await withNode(() => {}, async (url) => {
    await checkMalformedRequests(url, {timestampRoute: true});
  });
}));

Api("should answer 503 with Retry-After when the queue is full :: maxQueue 2, round interval 60 s", withTimeout(30_000, async () => {
  await withNode(
    (o) => {
      o.aggregator.maxQueue = 2;
      o.aggregator.roundIntervalMs = 60_000;
    },
    async (url, node) => {
      assert.is((await postDigest(url, new Uint8Array(32).fill(1))).status, 200);
      const ac = new AbortController();
      const waiting = [2, 3].map((b) => postDigest(url, new Uint8Array(32).fill(b), ac.signal));
      while (node.aggregator.queueDepth < 2) await new Promise((r) => setTimeout(r, 5));
      const r = await postDigest(url, new Uint8Array(32).fill(4));
      assert.is(r.status, 503);
      assert.is(r.headers.get("retry-after"), "1");
      assert.is(new TextDecoder().decode(r.body), "Calendar busy, retry later");
      // Stopping commits the two queued digests, and they get their 200s.
      const stopped = node.stop();
      const done = await Promise.all(waiting);
      assert.equal(done.map((d) => d.status), [200, 200]);
      await stopped;
    },
  );
}));

/** A raw keep-alive connection whose replies can be awaited by content, not by time. */
class Conn {
  private readonly sock: Socket;
  private out = "";
  private closed = false;
  private readonly watchers = new Set<() => void>();

  constructor(port: number) {
    this.sock = connect(port, "127.0.0.1");
    this.sock.on("data", (d: Buffer) => this.seen(() => (this.out += d.toString("latin1"))));
    this.sock.on("close", () => this.seen(() => (this.closed = true)));
    this.sock.on("error", () => {});
  }

  private seen(change: () => void): void {
    change();
    for (const w of this.watchers) w();
  }

  send(data: string): void {
    this.sock.write(data);
  }

  /** Resolves with everything read once `pred` holds (checked on every read and at close). */
  until(pred: (out: string, closed: boolean) => boolean): Promise<string> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!pred(this.out, this.closed)) return;
        this.watchers.delete(check);
        resolve(this.out);
      };
      this.watchers.add(check);
      check();
    });
  }

  destroy(): void {
    this.sock.destroy();
  }
}

const DIGEST_REQUEST = "POST /digest HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na";
const count = (s: string, what: string): number => s.split(what).length - 1;

/** An API server over fakes: each digest waits until the test answers it. */
function fakeServer({listen = "127.0.0.1:0", stopWaitMs, patch = {}}: {listen?: string; stopWaitMs?: number; patch?: Partial<TestModules>} = {}): {api: ApiServer; held: Array<() => void>; arrived: (n: number) => Promise<void>} {
  const held: Array<() => void> = [];
  const arrivals: Array<() => void> = [];
  const modules: TestModules = {
    aggregator: {
      submit: () =>
        new Promise((resolve) => {
          held.push(() => resolve(Uint8Array.of(0xca, 0xfe)));
          for (const a of arrivals.splice(0)) a();
        }),
    },
    commitments: {lookup: async () => null},
    status: () => {
      throw new Error("no status in this test");
    },
    health: () => null,
    register: null,
    logger: nullLogger,
    metrics: null,
    ...patch,
  };
  const arrived = async (n: number): Promise<void> => {
    while (held.length < n) await new Promise<void>((r) => arrivals.push(r));
  };
  return {api: new ApiServer({listen, url: "", ...(stopWaitMs === undefined ? {} : {stopWaitMs})}, {routes: apiRoutes(modules), logger: modules.logger, metrics: modules.metrics}), held, arrived};
}

Api("should answer digests in flight before stop() resolves, and refuse new ones with 503 Connection: close :: two kept-alive connections", withTimeout(10_000, async () => {
  const {api, held, arrived} = fakeServer();
  await api.start();
  const a = new Conn(api.address.port);
  const b = new Conn(api.address.port);
  try {
    a.send(DIGEST_REQUEST);
    b.send(DIGEST_REQUEST);
    await arrived(2);
    let stopped = false;
    const stopping = api.stop().then(() => (stopped = true));
    (held[0] as () => void)();
    const first = await a.until((o) => o.includes("\r\n\r\n\xca\xfe"));
    assert.match(first, /^HTTP\/1\.1 200 OK\r\n/);
    assert.not.ok(stopped, "stop() resolved with a digest still in flight");
    // The same connection, still open while B waits: a new digest is refused.
    a.send(DIGEST_REQUEST);
    const refused = await a.until((o, closed) => closed && o.includes("retry later"));
    assert.match(refused, /HTTP\/1\.1 503 Service Unavailable\r\nConnection: close\r\n/);
    assert.match(refused, /Retry-After: 1\r\n/);
    assert.ok(refused.endsWith("Calendar shutting down, retry later"));
    assert.is(held.length, 2, "the refused digest never reached the aggregator");
    (held[1] as () => void)();
    const second = await b.until((o, closed) => closed && o.includes("\xca\xfe"));
    assert.match(second, /^HTTP\/1\.1 200 OK\r\n/);
    await stopping;
    assert.is(api.status, "stopped");
    assert.throws(() => api.address, (e: unknown) => e instanceof HttpError && e.code === "HTTP_NOT_LISTENING");
  } finally {
    a.destroy();
    b.destroy();
    for (const h of held) h();
    await api.stop();
  }
}));

Api("should close connections still busy once the stop bound has passed :: a digest never answered, 100 ms", withTimeout(10_000, async () => {
  const {api, held, arrived} = fakeServer({stopWaitMs: 100});
  await api.start();
  const a = new Conn(api.address.port);
  try {
    a.send(DIGEST_REQUEST);
    await arrived(1);
    const t0 = performance.now();
    await api.stop();
    assert.ok(performance.now() - t0 >= 90, "waited for the request in flight");
    const out = await a.until((_, closed) => closed);
    assert.is(count(out, "HTTP/1.1"), 0, "no reply: the connection was closed");
  } finally {
    a.destroy();
    for (const h of held) h();
  }
}));

Api("should refuse bad addresses with typed errors and restart after a stop :: HTTP_BAD_LISTEN_ADDRESS, HTTP_LISTEN_FAILED", withTimeout(10_000, async () => {
  const bad = fakeServer({listen: "nohost"}).api;
  const badStart = await startError(bad);
  assert.is(badStart?.code, "HTTP_BAD_LISTEN_ADDRESS");
  assert.is(badStart?.message, "bad listen address nohost");
  assert.is(bad.status, "stopped");
  const {api} = fakeServer();
  await api.start();
  const taken = fakeServer({listen: `127.0.0.1:${api.address.port}`}).api;
  try {
    const takenStart = await startError(taken);
    assert.is(takenStart?.code, "HTTP_LISTEN_FAILED");
    assert.match(takenStart?.message ?? "", `cannot listen on 127.0.0.1:${api.address.port}: EADDRINUSE`);
    await api.stop();
    await api.start();
    assert.is((await fetch(`http://127.0.0.1:${api.address.port}/healthz`)).status, 200, "listening again after a restart");
  } finally {
    await api.stop();
    await taken.stop();
  }
}));

Api("should answer 500 when a handler fails, and keep serving :: lookup throws", withTimeout(10_000, async () => {
  const {api} = fakeServer({
    patch: {
      commitments: {
        lookup: async () => {
          throw new Error("index on fire");
        },
      },
    },
  });
  await api.start();
  try {
    const url = `http://127.0.0.1:${api.address.port}`;
    const r = await fetch(`${url}/timestamp/${"00".repeat(44)}`);
    assert.is(r.status, 500);
    assert.is(await r.text(), "internal error");
    assert.is((await fetch(`${url}/healthz`)).status, 200);
  } finally {
    await api.stop();
  }
}));

/** The typed error `start()` failed with, or null if it started. */
async function startError(api: ApiServer): Promise<HttpError | null> {
  try {
    await api.start();
  } catch (e) {
    if (e instanceof HttpError) return e;
    throw e;
  }
  return null;
}

Api.run();
