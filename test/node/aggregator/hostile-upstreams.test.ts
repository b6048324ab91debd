/**
 * The stand-alone aggregator in front of upstream calendars that fail in
 * every way an upstream can (down, slow past the deadline, 5xx, garbage,
 * too large, the wrong attestations): the round goes on with the others
 * when `--min-upstreams` allows and is refused with 503 + Retry-After
 * otherwise, nothing hangs, and nothing a failing upstream sent reaches a
 * client's proof. Upstreams are small HTTP servers on 127.0.0.1:0.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {bitcoin, pending} from "../../../protocol/ots/attestations.ts";
import {decodeTimestamp} from "../../../protocol/ots/timestamp.ts";
import {MAX_UPSTREAM_REPLY_BYTES} from "../../../node/aggregator/upstream-reply.ts";
import {withTimeout} from "../../support/timeout.ts";
import {postDigest} from "../calendar/support.ts";
import {
  aggregatorOptions,
  answersBytes,
  answersLikeOtsd,
  answersStatus,
  deadUrl,
  fakeCalendar,
  holdsUntilReleased,
  nodeFor,
  pendingLeaves,
  replyEndingIn,
  replyWithRootAttestation,
  startAggregator,
  streamsBytes,
} from "./support.ts";
import type {Behaviour, FakeCalendar} from "./support.ts";
import type {Logger} from "../../../node/logger.ts";

const HOSTILE = "http://hostile.example";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Hostile = {name: string; code: string; behaviour?: Behaviour; slow?: boolean; down?: boolean; attemptsSeen?: number};

const HOSTILES: Hostile[] = [
  {name: "down", code: "UPSTREAM_UNREACHABLE", down: true},
  {name: "slow past the deadline", code: "UPSTREAM_TIMEOUT", slow: true},
  {name: "503", code: "UPSTREAM_STATUS", behaviour: answersStatus(503), attemptsSeen: 3},
  {name: "500", code: "UPSTREAM_STATUS", behaviour: answersStatus(500), attemptsSeen: 3},
  {name: "404 (not retried)", code: "UPSTREAM_STATUS", behaviour: answersStatus(404), attemptsSeen: 1},
  // Garbage that carries the hostile URI, so its absence from the proof means something.
  {name: "garbage", code: "UPSTREAM_REPLY_INVALID", behaviour: answersBytes(() => new TextEncoder().encode(`\xf0\x10garbage ${HOSTILE} garbage`)), attemptsSeen: 1},
  {name: "a valid reply with a trailing byte", code: "UPSTREAM_REPLY_INVALID", behaviour: answersBytes((root) => Uint8Array.from([...replyEndingIn(root, pending(HOSTILE)), 0])), attemptsSeen: 1},
  {name: "a Bitcoin attestation", code: "UPSTREAM_REPLY_NOT_PENDING", behaviour: answersBytes((root) => replyEndingIn(root, bitcoin(1))), attemptsSeen: 1},
  {name: "a Pending attestation on the root", code: "UPSTREAM_REPLY_BAD_SHAPE", behaviour: answersBytes((root) => replyWithRootAttestation(root, HOSTILE)), attemptsSeen: 1},
  {name: "a body declared too large", code: "UPSTREAM_REPLY_TOO_LARGE", behaviour: answersBytes(() => new Uint8Array(MAX_UPSTREAM_REPLY_BYTES + 1).fill(0x08)), attemptsSeen: 1},
  {name: "a body streamed past the limit (chunked, 1 MB)", code: "UPSTREAM_REPLY_TOO_LARGE", behaviour: streamsBytes(1 << 20), attemptsSeen: 1},
];

/** The hostile upstream's URL and how to end it: a server, or a port nothing listens on. */
async function hostileUpstream(h: Hostile): Promise<{url: string; server: FakeCalendar | null; close: () => Promise<void>}> {
  if (h.down) return {url: await deadUrl(), server: null, close: async () => {}};
  const held = h.slow ? holdsUntilReleased(answersLikeOtsd(HOSTILE)) : null;
  const server = await fakeCalendar(held?.behaviour ?? (h.behaviour as Behaviour));
  return {
    url: server.url,
    server,
    close: async () => {
      held?.release();
      await server.close();
    },
  };
}

async function statusJson(url: string): Promise<{rounds_accepted: number; rounds_failed: number; upstreams: Array<{url: string; healthy: boolean; in_flight: number; last_error: {code: string} | null}>}> {
  return (await (await fetch(`${url}/`, {headers: {Accept: "application/json"}})).json()) as never;
}

async function metric(url: string, pattern: RegExp): Promise<number> {
  const m = pattern.exec(await (await fetch(`${url}/metrics`)).text());
  return m ? Number(m[1]) : 0;
}

// ---
const Hostiles = suite("node/aggregator upstream calendars that fail");

Hostiles("should go on with the good upstream when M = 1 and refuse with 503 + Retry-After when M = 2 :: every hostile kind", withTimeout(120_000, async () => {
  const good = await fakeCalendar(answersLikeOtsd());
  try {
    for (const h of HOSTILES) {
      const bad = await hostileUpstream(h);
      try {
        const deadline = (o: {upstream: {deadlineMs: number}}): void => void (o.upstream.deadlineMs = 600);
        // M = 1: the good upstream's branch alone.
        const one = await startAggregator(aggregatorOptions([good.url, bad.url], deadline));
        try {
          const digest = new Uint8Array(randomBytes(32));
          const r = await postDigest(one.url, digest);
          assert.is(r.status, 200, h.name);
          const proof = decodeTimestamp(r.body, digest);
          assert.equal(pendingLeaves(proof).map((l) => l.uri), [good.url], `${h.name}: only the good upstream's branch`);
          assert.not.ok(Buffer.from(r.body).includes(HOSTILE), `${h.name}: nothing of the hostile reply in the proof`);
          const root = good.bodies.at(-1) as Uint8Array;
          assert.ok(nodeFor(proof, root) !== null, `${h.name}: the proof passes through the round root the upstreams were sent`);
          if (bad.server) assert.ok(bad.server.bodies.some((b) => Buffer.from(b).equals(root)), `${h.name}: the hostile upstream was sent the same root`);
          // Its retries run on after the round ended without it.
          let s = await statusJson(one.url);
          while (s.upstreams.some((u) => u.in_flight > 0)) {
            await sleep(10);
            s = await statusJson(one.url);
          }
          if (h.attemptsSeen !== undefined) assert.is(bad.server?.requests(), h.attemptsSeen, `${h.name}: attempts`);
          const seen = s.upstreams.find((u) => u.url === bad.url);
          assert.is(seen?.healthy, false, h.name);
          assert.is(seen?.last_error?.code, h.code, h.name);
          const health = await fetch(`${one.url}/healthz`);
          assert.is(health.status, 200, `${h.name}: still serving`);
          assert.is(await health.text(), `degraded: upstream ${bad.url} failing (${h.code})`, h.name);
          assert.ok((await metric(one.url, new RegExp(`calendar_upstream_requests_total\\{upstream="${bad.url}",result="${h.code}"\\} (\\d+)`))) >= 1, `${h.name}: counted by code`);
        } finally {
          await one.aggregator.stop();
        }
        // M = 2: the round is refused, nothing acknowledged.
        const two = await startAggregator(aggregatorOptions([good.url, bad.url], (o) => {
          deadline(o);
          o.upstream.minUpstreams = 2;
        }));
        try {
          const r = await postDigest(two.url, new Uint8Array(randomBytes(32)));
          assert.is(r.status, 503, h.name);
          assert.is(r.headers.get("retry-after"), "5", h.name);
          assert.is(new TextDecoder().decode(r.body), "Upstream calendars unavailable, retry later", h.name);
          const health = await fetch(`${two.url}/healthz`);
          assert.is(health.status, 503, `${h.name}: fewer upstreams accepting than a round needs`);
          assert.match(await health.text(), `1 of 2 upstream calendars accepting, 2 needed: upstream ${bad.url} failing (${h.code})`);
          const s = await statusJson(two.url);
          assert.is(s.rounds_failed, 1, h.name);
          assert.is(s.rounds_accepted, 0, h.name);
          assert.is(await metric(two.url, /calendar_digests_rejected_total\{reason="upstreams"\} (\d+)/), 1, h.name);
        } finally {
          await two.aggregator.stop();
        }
      } finally {
        await bad.close();
      }
    }
  } finally {
    await good.close();
  }
}));

/** A logger that keeps every line's level and message. */
function recordingLogger(lines: Array<{level: string; msg: string}>): Logger {
  const at = (level: string) => (msg: string): void => void lines.push({level, msg});
  const logger: Logger = {error: at("error"), warn: at("warn"), info: at("info"), verbose: at("verbose"), debug: at("debug"), child: () => logger};
  return logger;
}

Hostiles("should refuse with 503 while the only upstream is down, logging the change once, and take digests again once it is back :: M = 1", withTimeout(30_000, async () => {
  const url = await deadUrl();
  const port = Number(new URL(url).port);
  const lines: Array<{level: string; msg: string}> = [];
  const {aggregator, url: agg} = await startAggregator(aggregatorOptions([url], (o) => void (o.upstream.deadlineMs = 2_000)), recordingLogger(lines));
  try {
    for (let i = 0; i < 3; i++) {
      const r = await postDigest(agg, new Uint8Array(32));
      assert.is(r.status, 503);
    }
    assert.is((await fetch(`${agg}/healthz`)).status, 503);
    const warnings = lines.filter((l) => l.level === "warn" || l.level === "error").map((l) => l.msg);
    assert.equal(warnings, ["upstream calendar failing", "rounds refused: too few upstream calendars accepting; clients get 503"], "one line per change of state, not per round");
    // The calendar comes up on its port: the next round goes through and health is green again.
    const back = await fakeCalendar(answersLikeOtsd(), port);
    try {
      const d = new Uint8Array(randomBytes(32));
      const ok = await postDigest(agg, d);
      assert.is(ok.status, 200);
      assert.equal(pendingLeaves(decodeTimestamp(ok.body, d)).map((l) => l.uri), [url]);
      const h = await fetch(`${agg}/healthz`);
      assert.is(h.status, 200);
      assert.is(await h.text(), "ok");
      const infos = lines.filter((l) => l.level === "info").map((l) => l.msg);
      assert.ok(infos.includes("upstream calendar accepting again") && infos.includes("rounds accepted again"), JSON.stringify(infos));
    } finally {
      await back.close();
    }
  } finally {
    await aggregator.stop();
  }
}));

Hostiles("should wait for a slow upstream only until its first failure, then never again, with one request in flight to it at most :: held replies, deadline 5 s", withTimeout(60_000, async () => {
  const good = await fakeCalendar(answersLikeOtsd());
  let held = holdsUntilReleased(answersLikeOtsd());
  const slow = await fakeCalendar((b, res, req) => held.behaviour(b, res, req));
  const {aggregator, url} = await startAggregator(aggregatorOptions([good.url, slow.url], (o) => void (o.upstream.deadlineMs = 5_000)));
  try {
    // Round 1: the slow upstream is healthy, so the round waits for it, until the deadline.
    const d1 = new Uint8Array(randomBytes(32));
    const r1 = await postDigest(url, d1);
    assert.is(r1.status, 200);
    assert.equal(pendingLeaves(decodeTimestamp(r1.body, d1)).map((l) => l.uri), [good.url]);
    while (slow.held() > 0) await sleep(5);
    assert.is(slow.requests(), 1);
    // Round 2: it is failing, so the round ends as soon as the good one accepted,
    // while the request to the slow one is still unanswered.
    const d2 = new Uint8Array(randomBytes(32));
    const r2 = await postDigest(url, d2);
    assert.is(r2.status, 200);
    assert.equal(pendingLeaves(decodeTimestamp(r2.body, d2)).map((l) => l.uri), [good.url]);
    while (slow.requests() < 2) await sleep(5);
    assert.is(slow.held(), 1, "round 2 answered while its request to the slow upstream was still held");
    // Round 3: that request is its probe; it gets no second one.
    const r3 = await postDigest(url, new Uint8Array(randomBytes(32)));
    assert.is(r3.status, 200);
    assert.is(slow.requests(), 2, "no second request while one is in flight");
    assert.is(await metric(url, new RegExp(`calendar_upstream_requests_total\\{upstream="${slow.url}",result="skipped"\\} (\\d+)`)), 1);
    // The probe is answered: the upstream is healthy again and round 4 has both branches.
    held.release();
    while (!(await statusJson(url)).upstreams.every((u) => u.healthy)) await sleep(10);
    held = holdsUntilReleased(answersLikeOtsd());
    held.release();
    const d4 = new Uint8Array(randomBytes(32));
    const r4 = await postDigest(url, d4);
    assert.is(r4.status, 200);
    assert.equal(pendingLeaves(decodeTimestamp(r4.body, d4)).map((l) => l.uri).sort(), [good.url, slow.url].sort());
  } finally {
    held.release();
    await aggregator.stop();
    await good.close();
    await slow.close();
  }
}));

Hostiles("should retry a 503 within the deadline and keep the branch :: 503 twice, then a reply; M = 2", withTimeout(20_000, async () => {
  const good = await fakeCalendar(answersLikeOtsd());
  let failures = 2;
  const flaky = await fakeCalendar((b, res, req) => (failures-- > 0 ? answersStatus(503) : answersLikeOtsd())(b, res, req));
  const {aggregator, url} = await startAggregator(aggregatorOptions([good.url, flaky.url], (o) => void (o.upstream.minUpstreams = 2)));
  try {
    const d = new Uint8Array(randomBytes(32));
    const r = await postDigest(url, d);
    assert.is(r.status, 200);
    assert.is(pendingLeaves(decodeTimestamp(r.body, d)).length, 2);
    assert.is(flaky.requests(), 3, "two failed attempts, then the accepted one");
    assert.ok(flaky.bodies.every((b) => Buffer.from(b).equals(good.bodies[0] as Uint8Array)), "every attempt sends the same root");
  } finally {
    await aggregator.stop();
    await good.close();
    await flaky.close();
  }
}));

Hostiles("should answer every digest in flight at stop, not waiting past the deadline for a slow upstream :: stop during a round", withTimeout(20_000, async () => {
  const good = await fakeCalendar(answersLikeOtsd());
  const held = holdsUntilReleased(answersLikeOtsd());
  const slow = await fakeCalendar(held.behaviour);
  const {aggregator, url} = await startAggregator(aggregatorOptions([good.url, slow.url], (o) => void (o.upstream.deadlineMs = 1_000)));
  try {
    const d = new Uint8Array(randomBytes(32));
    const answer = postDigest(url, d);
    while (slow.requests() < 1) await sleep(5);
    await aggregator.stop();
    const r = await answer;
    assert.is(r.status, 200);
    assert.equal(pendingLeaves(decodeTimestamp(r.body, d)).map((l) => l.uri), [good.url]);
    assert.is(aggregator.status, "stopped");
  } finally {
    held.release();
    await aggregator.stop();
    await good.close();
    await slow.close();
  }
}));

Hostiles.run();

// ---
const Rounds = suite("node/aggregator one upstream request per round");

Rounds("should send each upstream one request per round whatever the number of digests, over kept-alive connections :: 40 digests at once, then 5 one by one", withTimeout(30_000, async () => {
  const a = await fakeCalendar(answersLikeOtsd());
  const b = await fakeCalendar(answersLikeOtsd());
  const {aggregator, url} = await startAggregator(aggregatorOptions([a.url, b.url], (o) => void (o.aggregator.roundIntervalMs = 300)));
  try {
    const digests = Array.from({length: 40}, () => new Uint8Array(randomBytes(32)));
    const replies = await Promise.all(digests.map((d) => postDigest(url, d)));
    assert.ok(replies.every((r) => r.status === 200));
    for (const [i, r] of replies.entries()) {
      const proof = decodeTimestamp(r.body, digests[i] as Uint8Array);
      assert.equal(pendingLeaves(proof).map((l) => l.uri).sort(), [a.url, b.url].sort(), `digest ${i}: a branch per upstream`);
      assert.ok(a.bodies.some((root) => nodeFor(proof, root) !== null), `digest ${i}: through a root upstream A was sent`);
    }
    for (let i = 0; i < 5; i++) assert.is((await postDigest(url, new Uint8Array(randomBytes(32)))).status, 200);
    const s = await statusJson(url);
    assert.ok(s.rounds_accepted < 40, `${s.rounds_accepted} rounds for 45 digests`);
    assert.is(a.requests(), s.rounds_accepted, "upstream A: one request per round");
    assert.is(b.requests(), s.rounds_accepted, "upstream B: one request per round");
    assert.ok(a.connections() < a.requests() && b.connections() < b.requests(), `keep-alive: ${a.connections()} connections for ${a.requests()} requests`);
  } finally {
    await aggregator.stop();
    await a.close();
    await b.close();
  }
}));

Rounds.run();
