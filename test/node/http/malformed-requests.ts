/**
 * The malformed-request suite every otsfed HTTP API must pass (the
 * calendar's, node/http/server.test.ts, and the stand-alone aggregator's,
 * test/node/aggregator/): raw bytes on a socket, each refused with its
 * status, its reason where otsd gives one, and the CORS header; a body
 * longer than declared; and the server still serving afterwards.
 */
import * as assert from "uvu/assert";
import {postDigest, rawRequest} from "../calendar/support.ts";

function statusLine(raw: string): string {
  return raw.slice(0, raw.indexOf("\r\n"));
}

function bodyOf(raw: string): string {
  return raw.slice(raw.indexOf("\r\n\r\n") + 4);
}

type Case = {name: string; req: string | Uint8Array; status: string; reason?: string};

/**
 * Run the suite against `url`. `timestampRoute`: the server has GET
 * /timestamp (a calendar; bad hex is 400), or not (an aggregator; 404).
 */
export async function checkMalformedRequests(url: string, {timestampRoute}: {timestampRoute: boolean}): Promise<void> {
  const host = new URL(url).host;
  const badHex = timestampRoute ? {status: "HTTP/1.1 400 Bad Request", reason: "commitment must be hex-encoded bytes"} : {status: "HTTP/1.1 404 Not Found", reason: "Not found"};
  const cases: Case[] = [
    {name: "missing Content-Length", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "invalid Content-Length"},
    {name: "HTTP/1.0 without length", req: `POST /digest HTTP/1.0\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "invalid Content-Length"},
    {name: "non-numeric Content-Length", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: abc\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "invalid Content-Length"},
    {name: "negative Content-Length", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: -1\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "invalid Content-Length"},
    {name: "conflicting Content-Length", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`, status: "HTTP/1.1 400 Bad Request"},
    {name: "Content-Length 65", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 65\r\n\r\n${"a".repeat(65)}`, status: "HTTP/1.1 400 Bad Request", reason: "digest too long"},
    {name: "huge Content-Length", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 99999999999999999999\r\n\r\n`, status: "HTTP/1.1 400 Bad Request"},
    {name: "chunked body", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n${"b".repeat(32)}\r\n0\r\n\r\n`, status: "HTTP/1.1 400 Bad Request", reason: "invalid Content-Length: chunked request bodies are not accepted"},
    {name: "chunked and Content-Length", req: `POST /digest HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: "HTTP/1.1 400 Bad Request"},
    {name: "bad hex", req: `GET /timestamp/zz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, ...badHex},
    {name: "odd hex", req: `GET /timestamp/abc HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, ...badHex},
    {name: "query after hex", req: `GET /timestamp/00?x=1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, ...badHex},
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
}
