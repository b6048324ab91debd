/**
 * Helpers for the stand-alone aggregator's tests: small calendar-like HTTP
 * servers on 127.0.0.1:0 that answer `POST /digest` as a public calendar
 * does, or in one of the ways an upstream can fail (down, slow, 5xx,
 * garbage, too large), and an aggregator in front of them.
 */
import {randomBytes} from "node:crypto";
import {createServer} from "node:http";
import type {IncomingMessage, Server, ServerResponse} from "node:http";
import type {Socket} from "node:net";
import {pending} from "../../../protocol/ots/attestations.ts";
import type {Attestation} from "../../../protocol/ots/attestations.ts";
import {append, prepend, SHA256} from "../../../protocol/ots/ops.ts";
import {encodeTimestamp, timestampFromPath, Timestamp} from "../../../protocol/ots/timestamp.ts";
import {AggregatorNode} from "../../../node/aggregator-node.ts";
import {defaultAggregatorNodeOptions} from "../../../node/aggregator-options.ts";
import type {AggregatorNodeOptions} from "../../../node/aggregator-options.ts";
import {systemClock} from "../../../node/clock.ts";
import type {Logger} from "../../../node/logger.ts";
import {nullLogger} from "../../../node/logger.ts";

/**
 * What a public calendar answers for `root` (PROTOCOL-NOTES §2.2): its
 * nonce, sha256, `prepend(time)`, `append(mac)` and its Pending attestation
 * (no merkle path: alone in its round).
 */
export function otsdReply(root: Uint8Array, uri: string): Uint8Array {
  const time = new Uint8Array(4);
  new DataView(time.buffer).setUint32(0, Math.floor(Date.now() / 1000));
  return encodeTimestamp(timestampFromPath(root, [append(new Uint8Array(randomBytes(16))), SHA256, prepend(time), append(new Uint8Array(randomBytes(8)))], [pending(uri)]));
}

/** A reply for `root` ending in `attestation` after one nonce: a well-formed timestamp with a chosen leaf. */
export function replyEndingIn(root: Uint8Array, attestation: Attestation): Uint8Array {
  return encodeTimestamp(timestampFromPath(root, [append(new Uint8Array(randomBytes(16))), SHA256], [attestation]));
}

/** A timestamp for `root` with an attestation on the root itself as well as a branch. */
export function replyWithRootAttestation(root: Uint8Array, uri: string): Uint8Array {
  const t = new Timestamp(root);
  t.addAttestation(pending(uri));
  t.addOp(SHA256).addAttestation(pending(uri));
  return encodeTimestamp(t);
}

/** How a fake calendar answers one request: it gets the posted body and the response. */
export type Behaviour = (body: Uint8Array, res: ServerResponse, req: IncomingMessage) => void;

export type FakeCalendar = {
  url: string;
  /** POST /digest requests received so far, and the bodies. */
  requests: () => number;
  bodies: Uint8Array[];
  /** TCP connections accepted so far. */
  connections: () => number;
  /** Requests whose reply the server is holding back (a slow behaviour), and whose connection is still open. */
  held: () => number;
  /** Change how it answers from now on. */
  behave(b: Behaviour): void;
  close(): Promise<void>;
};

/** A calendar-like server on 127.0.0.1 (port 0 unless given) answering every POST /digest with `behaviour`. */
export async function fakeCalendar(behaviour: Behaviour, listenPort = 0): Promise<FakeCalendar> {
  let b = behaviour;
  const bodies: Uint8Array[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  let held = 0;
  const server: Server = createServer({keepAlive: true}, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = new Uint8Array(Buffer.concat(chunks));
      if (req.method !== "POST" || req.url !== "/digest") {
        res.writeHead(404).end("not found");
        return;
      }
      bodies.push(body);
      held++;
      res.once("close", () => held--);
      b(body, res, req);
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on("connection", (s: Socket) => {
    connections++;
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(listenPort, "127.0.0.1", () => r()));
  const port = (server.address() as {port: number}).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    requests: () => bodies.length,
    bodies,
    connections: () => connections,
    held: () => held,
    behave: (next) => void (b = next),
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/** Answers as a public calendar does, naming `uri` (its own URL by default) in its Pending attestation. */
export function answersLikeOtsd(uri?: string): Behaviour {
  return (body, res, req) => {
    const reply = otsdReply(body, uri ?? `http://${req.headers.host as string}`);
    res.writeHead(200, {"Content-Type": "application/octet-stream", "Content-Length": reply.length});
    res.end(reply);
  };
}

/** Answers `status` with a short text body. */
export function answersStatus(status: number): Behaviour {
  return (_body, res) => {
    res.writeHead(status, {"Content-Type": "text/plain", "Content-Length": 5});
    res.end("oops\n");
  };
}

/** Answers 200 with `make(root)` as the body. */
export function answersBytes(make: (root: Uint8Array) => Uint8Array): Behaviour {
  return (body, res) => {
    const reply = make(body);
    res.writeHead(200, {"Content-Type": "application/octet-stream", "Content-Length": reply.length});
    res.end(reply);
  };
}

/** Answers 200 and streams `total` bytes without a Content-Length (chunked), a kilobyte at a time. */
export function streamsBytes(total: number): Behaviour {
  return (_body, res) => {
    res.writeHead(200, {"Content-Type": "application/octet-stream"});
    let sent = 0;
    const more = (): void => {
      while (sent < total && !res.destroyed) {
        sent += 1024;
        if (!res.write(Buffer.alloc(1024, 0x08))) return void res.once("drain", more);
      }
      res.end();
    };
    more();
  };
}

/** Never answers until `release()`; then answers as `then` would. */
export function holdsUntilReleased(then: Behaviour): {behaviour: Behaviour; release: () => void} {
  const waiting: Array<() => void> = [];
  let released = false;
  return {
    behaviour: (body, res, req) => {
      if (released) then(body, res, req);
      else waiting.push(() => then(body, res, req));
    },
    release: () => {
      released = true;
      for (const w of waiting.splice(0)) w();
    },
  };
}

/** A URL nothing listens on: a port just bound and released. */
export async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as {port: number}).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

/** Options for a test aggregator on 127.0.0.1:0 in front of `upstreams`. */
export function aggregatorOptions(upstreams: string[], patch: (o: AggregatorNodeOptions) => void = () => {}): AggregatorNodeOptions {
  const o = defaultAggregatorNodeOptions();
  o.http.listen = "127.0.0.1:0";
  o.upstream.upstreams = upstreams;
  patch(o);
  return o;
}

/** An aggregator, started; the caller must `stop()` it. */
export async function startAggregator(opts: AggregatorNodeOptions, logger: Logger = nullLogger): Promise<{aggregator: AggregatorNode; url: string}> {
  const aggregator = await AggregatorNode.init(opts, {logger, clock: systemClock});
  const {url} = await aggregator.start();
  return {aggregator, url};
}

/** Every Pending leaf of a timestamp: its message (hex) and URI. */
export function pendingLeaves(ts: Timestamp): Array<{msg: Uint8Array; uri: string}> {
  const out: Array<{msg: Uint8Array; uri: string}> = [];
  const walk = (t: Timestamp): void => {
    for (const a of t.attestations) if (a.kind === "pending") out.push({msg: t.msg, uri: a.uri});
    for (const [, child] of t.ops) walk(child);
  };
  walk(ts);
  return out;
}

/** The node of `ts` whose message is `msg` (a round root the upstreams were sent), or null. */
export function nodeFor(ts: Timestamp, msg: Uint8Array): Timestamp | null {
  if (Buffer.from(ts.msg).equals(msg)) return ts;
  for (const [, child] of ts.ops) {
    const found = nodeFor(child, msg);
    if (found) return found;
  }
  return null;
}
