/**
 * The stand-alone aggregator's status page at `/`: HTML for people, JSON
 * (application/json) for `Accept: application/json`, as the calendar's
 * (status.ts). Keys follow the calendar's where they mean the same thing
 * (`version`, `queue_depth`, `round_interval_ms`, `uptime_seconds`).
 */
import type {LastRound} from "../aggregator/upstream-round-sink.ts";
import type {UpstreamReport} from "../aggregator/upstream-calendar.ts";
import {esc} from "./status.ts";

export type AggregatorStatusInfo = {
  version: string;
  /** Where it listens (its own URL, for the commands it shows). */
  url: string;
  upstreams: UpstreamReport[];
  minUpstreams: number;
  deadlineMs: number;
  queueDepth: number;
  roundIntervalMs: number;
  roundsAccepted: number;
  roundsFailed: number;
  lastRound: LastRound;
  uptimeSeconds: number;
};

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function aggregatorStatusJson(s: AggregatorStatusInfo): string {
  return JSON.stringify({
    version: s.version,
    role: "aggregator",
    upstreams: s.upstreams.map((u) => ({
      url: u.url,
      healthy: u.healthy,
      in_flight: u.inFlight,
      accepted: u.accepted,
      failed: u.failed,
      last_latency_ms: u.lastLatencyMs,
      last_accepted_at: iso(u.lastAcceptedAtMs),
      last_error: u.lastError && {code: u.lastError.code, message: u.lastError.message, at: iso(u.lastError.atMs)},
    })),
    min_upstreams: s.minUpstreams,
    upstream_deadline_ms: s.deadlineMs,
    rounds_accepted: s.roundsAccepted,
    rounds_failed: s.roundsFailed,
    last_round: s.lastRound && {at: iso(s.lastRound.atMs), digests: s.lastRound.digests, accepted: s.lastRound.accepted, failed: s.lastRound.failed},
    queue_depth: s.queueDepth,
    round_interval_ms: s.roundIntervalMs,
    uptime_seconds: s.uptimeSeconds,
  });
}

function upstreamState(u: UpstreamReport): string {
  if (u.healthy) return u.lastAcceptedAtMs === null ? "no round yet" : `accepting (last ${u.lastLatencyMs} ms, ${iso(u.lastAcceptedAtMs)})`;
  return `FAILING: ${u.lastError ? `${u.lastError.code} ${u.lastError.message}` : "unknown"}`;
}

export function aggregatorStatusHtml(s: AggregatorStatusInfo): string {
  const rows: Array<[string, string]> = [
    ["Version", s.version],
    ["Upstream calendars needed per round", `${s.minUpstreams} of ${s.upstreams.length}`],
    ["Upstream deadline", `${s.deadlineMs} ms`],
    ["Rounds accepted", String(s.roundsAccepted)],
    ["Rounds refused (503 to their clients)", String(s.roundsFailed)],
    ["Digests waiting for a round", String(s.queueDepth)],
    ["Minimum round interval", `${s.roundIntervalMs} ms`],
    ["Uptime", `${s.uptimeSeconds} s`],
  ];
  const last = s.lastRound;
  if (last !== null) rows.push(["Last round", `${last.digests} digests at ${iso(last.atMs)}: ${last.accepted.length} upstreams accepted${last.failed.length > 0 ? `; not: ${last.failed.map((f) => `${f.url} (${f.code})`).join(", ")}` : ""}`]);
  const upstreams = s.upstreams
    .map((u) => `<tr><td>${esc(u.url)}</td><td>${esc(upstreamState(u))}</td><td>${u.accepted}</td><td>${u.failed}</td><td>${u.inFlight}</td></tr>`)
    .join("\n");
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>OpenTimestamps aggregator ${esc(s.url)}</title></head>
<body><h1>OpenTimestamps aggregator</h1>
<p>This is an <a href="https://opentimestamps.org">OpenTimestamps</a> aggregation server (otsfed): it gathers digests into rounds and submits one commitment per round to the calendars below; proofs are upgraded from those calendars. Use it with <code>ots stamp -c ${esc(s.url)} -m 1</code>.</p>
<table>
${rows.map(([k, v]) => `<tr><th align="left">${esc(k)}</th><td><code>${esc(v)}</code></td></tr>`).join("\n")}
</table>
<h2>Upstream calendars</h2>
<table>
<tr><th align="left">URL</th><th align="left">state</th><th>accepted</th><th>failed attempts</th><th>in flight</th></tr>
${upstreams}
</table>
</body></html>
`;
}
