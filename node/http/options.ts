/**
 * Options of the HTTP API, its defaults and its rows of settings (STYLE §11:
 * next to the module, aggregated by node/options.ts).
 */
import {checkPendingUri} from "../../protocol/ots/attestations.ts";
import {badValue} from "../config/option-spec.ts";
import type {OptionSpec} from "../config/option-spec.ts";
import {integer, nonEmptyString} from "../config/values.ts";

/** Where the HTTP API listens and the URL it writes into proofs. */
export type HttpOptions = {
  /** `host:port` to listen on (`[::1]:port` for IPv6); port 0 picks a free one. */
  listen: string;
  /**
   * The calendar's public URL, written into every Pending attestation and
   * never to be changed (old proofs point at it forever): a bare origin with
   * no path and no trailing slash (PROTOCOL-NOTES §2.4, §5).
   */
  url: string;
  /**
   * Connections served at once; node:http closes any beyond it at accept
   * (`server.maxConnections`). Each costs a file descriptor and, while a
   * client pipelines without reading, up to
   * {@link MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION} replies of memory.
   */
  maxConnections: number;
};

/**
 * Requests one connection may have unanswered at once. OpenTimestamps
 * clients send one request at a time (Python's with `Connection: close`, the
 * JS library on keep-alive), so a connection past this is pipelining without
 * reading its replies: the server closes it rather than queue replies for
 * it (issue 11: 50 such sockets held 0.6–1.9 GB).
 */
export const MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION = 32;

/** Largest `maxConnections` accepted: far past what one node's file descriptors allow. */
export const MAX_CONNECTIONS_LIMIT = 100_000;

/**
 * otsd's port on localhost; the URL follows the listen address unless set;
 * 1,024 connections: 16 times the ingest bench's 64, and, at the per-connection
 * bound, well under 1 GB even if every one of them floods.
 */
export const defaultHttpOptions: HttpOptions = {listen: "127.0.0.1:14788", url: "", maxConnections: 1024};

/** Split `host:port`; null if malformed. */
export function parseListen(s: string): {host: string; port: number} | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(s);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  return {host: (m[1] ?? m[2]) as string, port};
}

/** A calendar URL fit for Pending attestations: http(s), a bare origin, allowed characters only. */
export function checkCalendarUrl(v: string): string {
  if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(v)) throw badValue("must be a bare origin like https://calendar.example.net (no path, no trailing slash)");
  checkPendingUri(v);
  return v;
}

/** `--listen`, `--url` and `--max-connections`. */
export const httpOptionSpecs: readonly OptionSpec<HttpOptions>[] = [
  {
    key: "listen",
    env: "OTSFED_LISTEN",
    flag: "--listen",
    help: `host:port of the HTTP API (default ${defaultHttpOptions.listen})`,
    apply: (o, v) => {
      const listen = nonEmptyString(v);
      if (!parseListen(listen)) throw badValue("must be host:port, e.g. 127.0.0.1:14788");
      o.listen = listen;
    },
  },
  {key: "url", env: "OTSFED_URL", flag: "--url", help: "public URL written into Pending attestations (default http://<listen>)", apply: (o, v) => void (o.url = checkCalendarUrl(nonEmptyString(v)))},
  {
    key: "maxConnections",
    env: "OTSFED_MAX_CONNECTIONS",
    flag: "--max-connections",
    help: `HTTP connections served at once; more are closed at accept (default ${defaultHttpOptions.maxConnections})`,
    apply: (o, v) => void (o.maxConnections = integer(v, 1, MAX_CONNECTIONS_LIMIT)),
  },
];
