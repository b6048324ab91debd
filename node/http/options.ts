/**
 * Options of the HTTP API, its defaults and its rows of settings (STYLE §11:
 * next to the module, aggregated by node/options.ts).
 */
import {checkPendingUri} from "../../protocol/ots/attestations.ts";
import {badValue} from "../config/option-spec.ts";
import type {OptionSpec} from "../config/option-spec.ts";
import {nonEmptyString} from "../config/values.ts";

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
};

/** otsd's port on localhost; the URL follows the listen address unless set. */
export const defaultHttpOptions: HttpOptions = {listen: "127.0.0.1:14788", url: ""};

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

/** `--listen` and `--url`. */
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
];
