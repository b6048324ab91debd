/**
 * The stand-alone aggregator's HTTP API: the calendar's malformed-request
 * suite, its other routes and refusals, and a graceful stop — all in front
 * of calendar-like upstreams on 127.0.0.1.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {decodeTimestamp} from "../../../protocol/ots/timestamp.ts";
import {withTimeout} from "../../support/timeout.ts";
import {postDigest} from "../calendar/support.ts";
import {checkMalformedRequests} from "../http/malformed-requests.ts";
import {aggregatorOptions, answersLikeOtsd, fakeCalendar, pendingLeaves, startAggregator} from "./support.ts";
import type {AggregatorNodeOptions} from "../../../node/aggregator-options.ts";
import type {AggregatorNode} from "../../../node/aggregator-node.ts";
import type {FakeCalendar} from "./support.ts";

/** An aggregator in front of one otsd-like upstream, for `fn`; both stopped afterwards. */
async function withAggregator(patch: (o: AggregatorNodeOptions) => void, fn: (url: string, aggregator: AggregatorNode, upstream: FakeCalendar) => Promise<void>): Promise<void> {
  const upstream = await fakeCalendar(answersLikeOtsd());
  try {
    const {aggregator, url} = await startAggregator(aggregatorOptions([upstream.url], patch));
    try {
      await fn(url, aggregator, upstream);
    } finally {
      await aggregator.stop();
    }
  } finally {
    await upstream.close();
  }
}

// ---
const Api = suite("node/aggregator-node HTTP API");

Api("should refuse every malformed request with a 4xx and a reason, as the calendar does :: raw sockets, the calendar's suite", withTimeout(30_000, async () => {
  await withAggregator(() => {}, async (url) => {
    await checkMalformedRequests(url, {timestampRoute: false});
  });
}));

Api("should stamp a digest with the calendar's headers and serve its own status, health and metrics :: otsd-like upstream", withTimeout(20_000, async () => {
  await withAggregator(() => {}, async (url, _aggregator, upstream) => {
    const digest = new Uint8Array(randomBytes(32));
    const r = await postDigest(url, digest);
    assert.is(r.status, 200);
    assert.is(r.headers.get("content-type"), "application/octet-stream");
    assert.is(r.headers.get("access-control-allow-origin"), "*");
    assert.is(r.headers.get("cache-control"), null);
    const leaves = pendingLeaves(decodeTimestamp(r.body, digest));
    assert.equal(leaves.map((l) => l.uri), [upstream.url], "one branch, ending in the upstream's Pending attestation");
    // Empty and 64-byte digests, as a calendar takes them.
    assert.is((await postDigest(url, new Uint8Array(0))).status, 200);
    assert.is((await postDigest(url, new Uint8Array(64))).status, 200);
    assert.is(upstream.requests(), 3);
    assert.ok(upstream.bodies.every((b) => b.length === 32), "each round's root is 32 bytes");

    const html = await fetch(`${url}/`);
    assert.is(html.status, 200);
    assert.ok(html.headers.get("content-type")?.startsWith("text/html"));
    assert.is(html.headers.get("vary"), "Accept");
    const page = await html.text();
    assert.ok(page.includes("OpenTimestamps aggregator") && page.includes(upstream.url), page);
    const json = await fetch(`${url}/`, {headers: {Accept: "application/json"}});
    assert.is(json.headers.get("content-type"), "application/json");
    const s = (await json.json()) as {role: string; min_upstreams: number; rounds_accepted: number; upstreams: Array<{url: string; healthy: boolean; accepted: number}>; last_round: {digests: number; accepted: string[]}};
    assert.is(s.role, "aggregator");
    assert.is(s.min_upstreams, 1);
    assert.is(s.rounds_accepted, 3);
    assert.equal(s.upstreams.map((u) => [u.url, u.healthy, u.accepted]), [[upstream.url, true, 3]]);
    assert.equal(s.last_round.accepted, [upstream.url]);
    const h = await fetch(`${url}/healthz`);
    assert.is(h.status, 200);
    assert.is(await h.text(), "ok");
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const name of ["calendar_http_requests_total", "calendar_digests_accepted_total", "calendar_round_digests", "calendar_upstream_requests_total", "calendar_upstream_request_duration_seconds", "calendar_upstream_up", "calendar_upstream_rounds_total", "calendar_process_process_resident_memory_bytes"]) {
      assert.ok(text.includes(name), name);
    }
    assert.match(text, new RegExp(`calendar_upstream_requests_total\\{upstream="${upstream.url}",result="accepted"\\} 3`));
    assert.match(text, /calendar_http_requests_total\{route="digest",status="2xx"\} 3/);

    // No /timestamp here: clients upgrade from the upstreams.
    const g = await fetch(`${url}/timestamp/${"00".repeat(44)}`);
    assert.is(g.status, 404);
    assert.is(await g.text(), "Not found");
    assert.is((await fetch(`${url}/nope`, {method: "POST", body: "x"})).status, 404);
    assert.is((await fetch(`${url}/digest`, {method: "OPTIONS"})).status, 204);
    assert.is((await fetch(`${url}/digest`, {method: "DELETE"})).status, 405);
  });
}));

Api("should answer 503 with Retry-After when the queue is full, and answer the queued digests at stop :: maxQueue 2, round interval 60 s", withTimeout(30_000, async () => {
  await withAggregator(
    (o) => {
      o.aggregator.maxQueue = 2;
      o.aggregator.roundIntervalMs = 60_000;
    },
    async (url, aggregator, upstream) => {
      assert.is((await postDigest(url, new Uint8Array(32).fill(1))).status, 200);
      const waiting = [2, 3].map((b) => postDigest(url, new Uint8Array(32).fill(b)));
      while (aggregator.aggregator.queueDepth < 2) await new Promise((r) => setTimeout(r, 5));
      const r = await postDigest(url, new Uint8Array(32).fill(4));
      assert.is(r.status, 503);
      assert.is(r.headers.get("retry-after"), "1");
      assert.is(new TextDecoder().decode(r.body), "Calendar busy, retry later");
      // Stopping submits the two queued digests' round at once, and they get their 200s.
      const stopped = aggregator.stop();
      const done = await Promise.all(waiting);
      assert.equal(done.map((d) => d.status), [200, 200]);
      await stopped;
      assert.is(upstream.requests(), 2, "two rounds: the first digest's, then the two queued ones together");
      for (const [i, d] of done.entries()) assert.equal(pendingLeaves(decodeTimestamp(d.body, new Uint8Array(32).fill(i + 2))).map((l) => l.uri), [upstream.url]);
    },
  );
}));

Api("should serve again after a stop and a start :: the same aggregator, restarted", withTimeout(20_000, async () => {
  await withAggregator(() => {}, async (url, aggregator, upstream) => {
    assert.is((await postDigest(url, new Uint8Array(32).fill(1))).status, 200);
    await aggregator.stop();
    const again = await aggregator.start();
    const digest = new Uint8Array(32).fill(2);
    const r = await postDigest(again.url, digest);
    assert.is(r.status, 200);
    assert.equal(pendingLeaves(decodeTimestamp(r.body, digest)).map((l) => l.uri), [upstream.url]);
    assert.is(upstream.requests(), 2);
  });
}));

Api.run();
