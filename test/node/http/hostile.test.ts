/**
 * The HTTP API against hostile and careless clients over raw sockets
 * (issue 11): bodies cut off, half-closed connections, pipelined floods that
 * never read their replies. Bounds are generous on purpose: these tests
 * assert that the node stays bounded and answers, never how fast.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {connect} from "node:net";
import type {Socket} from "node:net";
import {Registry} from "prom-client";
import {withTimeout} from "../../support/timeout.ts";
import {ApiServer} from "../../../node/http/server.ts";
import type {ApiModules} from "../../../node/http/server.ts";
import {createMetrics} from "../../../node/metrics.ts";
import type {LogContext, Logger} from "../../../node/logger.ts";

type LogLine = {level: keyof Omit<Logger, "child">; msg: string; context: LogContext | undefined; err: Error | undefined};

/** A logger that keeps every line, to check what a flood of bad requests writes. */
function recordingLogger(lines: LogLine[]): Logger {
  const at = (level: LogLine["level"]) => (msg: string, context?: LogContext, err?: Error): void => void lines.push({level, msg, context, err});
  const logger: Logger = {error: at("error"), warn: at("warn"), info: at("info"), verbose: at("verbose"), debug: at("debug"), child: () => logger};
  return logger;
}

/**
 * An API server over fakes, with real metrics and a recording logger; its
 * digests are answered once `answer` resolves (at once by default).
 */
function recordingServer(answer: () => Promise<void> = async () => {}): {api: ApiServer; lines: LogLine[]; register: Registry; submitted: () => number} {
  const lines: LogLine[] = [];
  const register = new Registry();
  let submitted = 0;
  const modules: ApiModules = {
    aggregator: {
      submit: async () => {
        submitted++;
        await answer();
        return Uint8Array.of(0xca, 0xfe);
      },
    },
    commitments: {lookup: async () => null},
    status: () => {
      throw new Error("no status in this test");
    },
    health: () => null,
    register,
    logger: recordingLogger(lines),
    metrics: createMetrics(register),
  };
  return {api: new ApiServer({listen: "127.0.0.1:0", url: ""}, modules), lines, register, submitted: () => submitted};
}

/** The value of `calendar_http_requests_total{route, status}`, 0 if absent. */
async function requestCount(register: Registry, route: string, status: string): Promise<number> {
  const m = new RegExp(`^calendar_http_requests_total\\{route="${route}",status="${status}"\\} (\\d+)$`, "m").exec(await register.metrics());
  return m ? Number(m[1]) : 0;
}

/** Open a raw connection and resolve once it is connected. */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
}

/** Everything the server sends until it closes the connection. */
function readAll(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    s.on("data", (d: Buffer) => (out += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => resolve(out));
  });
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---
const Hostile = suite("node/http/server ApiServer hostile clients");

Hostile("should count a body cut off by the client as aborted and log it at debug without a stack :: Content-Length 32, 3 bytes sent, 200 times", withTimeout(20_000, async (signal) => {
  const {api, lines, register, submitted} = recordingServer();
  await api.start();
  try {
    const port = api.address.port;
    const n = 200;
    await Promise.all(
      Array.from({length: n}, async () => {
        const s = await open(port);
        const closed = readAll(s);
        s.end("POST /digest HTTP/1.1\r\nHost: x\r\nContent-Length: 32\r\n\r\nabc");
        await closed;
      }),
    );
    // The server sees each close shortly after the client's; wait for the count, not for a time.
    while ((await requestCount(register, "digest", "aborted")) < n && (await requestCount(register, "digest", "2xx")) < n) {
      signal.throwIfAborted();
      await settle(10);
    }
    assert.is(await requestCount(register, "digest", "aborted"), n);
    assert.is(await requestCount(register, "digest", "2xx"), 0, "a cut-off body is no 2xx");
    assert.is(submitted(), 0, "no digest reached the aggregator");
    const errors = lines.filter((l) => l.level === "error" || l.level === "warn");
    assert.equal(errors.map((l) => l.msg), [], "nothing logged above debug");
    assert.ok(lines.every((l) => l.err === undefined), "no line carries an error (and so no stack)");
    assert.is(lines.filter((l) => l.msg === "http client aborted").length, n);
  } finally {
    await api.stop();
  }
}));

Hostile("should answer a digest whose client half-closed right after sending it :: socket.end() while the digest waits for its round", withTimeout(10_000, async (signal) => {
  let release = (): void => {};
  const round = new Promise<void>((r) => (release = r));
  const {api, submitted} = recordingServer(() => round);
  await api.start();
  try {
    const s = await open(api.address.port);
    const reply = readAll(s);
    // Complete request, then FIN: the client can still read.
    s.end("POST /digest HTTP/1.1\r\nHost: x\r\nContent-Length: 32\r\n\r\n" + "d".repeat(32));
    while (submitted() < 1) {
      signal.throwIfAborted();
      await settle(5);
    }
    // Let the server see the FIN before the round completes.
    await settle(50);
    release();
    const out = await reply;
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/, "the 200 reached the half-closed client");
    assert.ok(out.endsWith("\r\n\r\n\xca\xfe"), out);
  } finally {
    release();
    await api.stop();
  }
}));

Hostile.run();
