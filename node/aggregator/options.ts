/**
 * The stand-alone aggregator's upstream settings: which calendars each
 * round's root goes to, how many must accept it, how long a round may take
 * (STYLE §11: type, defaults and rows next to the module; gathered with the
 * HTTP and aggregator rows by node/aggregator-options.ts).
 */
import {badValue, OptionsError, OptionsErrorCode} from "../config/option-spec.ts";
import type {OptionSpec} from "../config/option-spec.ts";
import {integer, parseDuration} from "../config/values.ts";

/** Where rounds go and how they are waited for. */
export type UpstreamOptions = {
  /**
   * The upstream calendars' URLs, as a client would be given them
   * (`https://a.pool.opentimestamps.org`); `POST <url>/digest` is where a
   * round's root goes, joined as python's client joins it.
   */
  upstreams: string[];
  /**
   * Upstreams that must accept a round before its clients are answered
   * (1 to the number of upstreams); fewer, and they get 503 + Retry-After.
   */
  minUpstreams: number;
  /** Longest a round waits for its upstreams, from the moment its root is sent, ms. */
  deadlineMs: number;
  /** Most attempts per upstream per round (a retry only after a failure worth retrying, and only before the deadline). */
  maxAttempts: number;
};

/** Most upstream calendars: each costs one request per round and a branch in every proof. */
export const MAX_UPSTREAMS = 16;

/**
 * No upstreams (required), one must accept; 3 s: otsd answers within its
 * 1 s aggregation interval, and the reference client gives up after 5 s in
 * all (`ots stamp --timeout`), which must also cover the client's wait for
 * the round to start; 3 attempts.
 */
export const defaultUpstreamOptions: UpstreamOptions = {upstreams: [], minUpstreams: 1, deadlineMs: 3_000, maxAttempts: 3};

/**
 * An upstream calendar URL: http or https, a host, no user or password (they
 * would go in every request and every log line), no query or fragment
 * (neither client would keep them).
 */
export function checkUpstreamUrl(v: unknown): string {
  if (typeof v !== "string" || v.length === 0) throw badValue("must be a calendar URL like https://a.pool.opentimestamps.org");
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw badValue(`'${v.slice(0, 100)}' is not a URL (like https://a.pool.opentimestamps.org)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw badValue(`'${v.slice(0, 100)}' must be an http:// or https:// URL`);
  if (u.username !== "" || u.password !== "") throw badValue(`'${u.host}': no user or password in an upstream URL`);
  if (u.search !== "" || u.hash !== "" || v.includes("?") || v.includes("#")) throw badValue(`'${u.host}': no query or fragment in an upstream URL`);
  return v;
}

/** The list from a source: repeated flags (string[]), a JSON array, or a comma- or space-separated string. */
function upstreamList(v: unknown): string[] {
  const items = Array.isArray(v) ? v : typeof v === "string" ? v.split(/[\s,]+/).filter((s) => s !== "") : null;
  if (items === null || items.length === 0) throw badValue("must be one or more calendar URLs");
  if (items.length > MAX_UPSTREAMS) throw badValue(`at most ${MAX_UPSTREAMS} upstream calendars`);
  const urls = items.map(checkUpstreamUrl);
  const seen = new Set<string>();
  for (const u of urls) {
    // The same calendar twice would be the same calendar in two branches of every proof.
    const key = new URL(u).href;
    if (seen.has(key)) throw badValue(`'${u}' is given twice`);
    seen.add(key);
  }
  return urls;
}

/** `--upstream` (repeatable), `--min-upstreams`, `--upstream-deadline`, `--upstream-attempts`. */
export const upstreamOptionSpecs: readonly OptionSpec<UpstreamOptions>[] = [
  {
    key: "upstreams",
    env: "OTSFED_UPSTREAMS",
    flag: "--upstream",
    repeatable: true,
    help: `an upstream calendar URL; the environment takes a comma-separated list, the config file a JSON array (required, at most ${MAX_UPSTREAMS})`,
    apply: (o, v) => void (o.upstreams = upstreamList(v)),
  },
  {
    key: "minUpstreams",
    env: "OTSFED_MIN_UPSTREAMS",
    flag: "--min-upstreams",
    help: `upstreams that must accept a round before its clients get their proofs; fewer: 503 + Retry-After (default ${defaultUpstreamOptions.minUpstreams})`,
    apply: (o, v) => void (o.minUpstreams = integer(v, 1, MAX_UPSTREAMS)),
  },
  {
    key: "upstreamDeadline",
    env: "OTSFED_UPSTREAM_DEADLINE",
    flag: "--upstream-deadline",
    help: "longest a round waits for its upstreams, retries included (default 3s)",
    apply: (o, v) => void (o.deadlineMs = parseDuration(v, 100, 60_000)),
  },
  {
    key: "upstreamAttempts",
    env: "OTSFED_UPSTREAM_ATTEMPTS",
    flag: "--upstream-attempts",
    help: `attempts per upstream per round, within the deadline (default ${defaultUpstreamOptions.maxAttempts})`,
    apply: (o, v) => void (o.maxAttempts = integer(v, 1, 10)),
  },
];

/** Checks across the upstream settings, once every source is applied: some upstream, and no more required than given. */
export function checkUpstreamOptions(o: UpstreamOptions): void {
  if (o.upstreams.length === 0) throw new OptionsError(OptionsErrorCode.REQUIRED, `no upstream calendar: give --upstream URL (repeatable), OTSFED_UPSTREAMS or "upstreams" in the config file`);
  if (o.minUpstreams > o.upstreams.length) {
    throw new OptionsError(OptionsErrorCode.CONFLICT, `--min-upstreams ${o.minUpstreams} is more than the ${o.upstreams.length} upstream calendar${o.upstreams.length === 1 ? "" : "s"} given`);
  }
}
