import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {pending} from "../../../protocol/ots/attestations.ts";
import {withTimeout} from "../../support/timeout.ts";
import {getTimestamp, postDigest, proofLeaf, rawRequest, removeDir, startNode, tempDir, testOptions} from "../calendar/support.ts";
import type {NodeOptions} from "../../../node/options.ts";
import type {CalendarNode} from "../../../node/node.ts";

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

function statusLine(raw: string): string {
  return raw.slice(0, raw.indexOf("\r\n"));
}

function bodyOf(raw: string): string {
  return raw.slice(raw.indexOf("\r\n\r\n") + 4);
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
    const host = new URL(url).host;
    const cases: Array<{name: string; req: string | Uint8Array; status: string; reason?: string}> = [
      {name: "missing Content-Length", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "invalid Content-Length"},
      {name: "HTTP/1.0 without length", req: `POST /digest HTTP/1.0\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "invalid Content-Length"},
      {name: "non-numeric Content-Length", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: abc\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "invalid Content-Length"},
      {name: "negative Content-Length", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: -1\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "invalid Content-Length"},
      {name: "conflicting Content-Length", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`, status: "HTTP/1.1 400 Bad Request"},
      {name: "Content-Length 65", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 65\r\n\r\n${"a".repeat(65)}`, status: "HTTP/1.1 400 Bad Request", reason: "digest too long"},
      {name: "huge Content-Length", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 99999999999999999999\r\n\r\n`, status: "HTTP/1.1 400 Bad Request"},
      {name: "chunked body", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n${"b".repeat(32)}\r\n0\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "invalid Content-Length: chunked request bodies are not accepted"},
      {name: "chunked and Content-Length", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: "HTTP/1.1 400 Bad Request"},
      {name: "bad hex", req: `GET /timestamp/zz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "commitment must be hex-encoded bytes"},
      {name: "odd hex", req: `GET /timestamp/abc HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "commitment must be hex-encoded bytes"},
      {name: "query after hex", req: `GET /timestamp/00?x=1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "commitment must be hex-encoded bytes"},
      {name: "garbage request line", req: `\x01\x02\x03 garbage\r\n\r\n`, status: "HTTP/1.1 400 Bad Request"},
      {name: "oversized headers", req: `GET / HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, status: "HTTP/1.1 431 Request Header Fields Too Large"},
    ];
    for (const c of cases) {
      const raw = await rawRequest(url, c.req);
      assert.is(statusLine(raw), c.status, c.name);
      if (c.reason !== undefined) assert.is(bodyOf(raw), c.reason, c.name);
      assert.ok(/access-control-allow-origin: \*/i.test(raw), `${c.name}: CORS header`);
    }
    // A body longer than declared: the 32 declared bytes are a digest and the
    // rest is parsed as a next request, which is refused with 400 and the
    // connection closed (the digest's own 200 may or may not make it out first).
    const raw = await rawRequest(url, `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 32\r\n\r\n${"c".repeat(32)}${"d".repeat(40)}`);
    const statuses = raw.match(/HTTP\/1\.1 \d{3}/g) ?? [];
    assert.is(statuses[statuses.length - 1], "HTTP/1.1 400", raw);
    assert.ok(statuses.every((x) => x === "HTTP/1.1 200" || x === "HTTP/1.1 400"), raw);
    // The server is still healthy after all of that.
    assert.is((await fetch(`${url}/healthz`)).status, 200);
    assert.is((await postDigest(url, new Uint8Array(32))).status, 200);
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

Api.run();
