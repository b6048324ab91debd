/**
 * The federation's part of the status page: who the members are and
 * whether we are connected to each, every mirrored calendar's length and
 * lag behind its origin, gossip rejected by reason, and any fork evidence.
 */
import type {FederationStatus} from "../federation/federation.ts";

export function federationJson(f: FederationStatus): Record<string, unknown> {
  return {
    name: f.name,
    peer_id: f.peerId,
    member: f.member,
    listen: f.listen,
    connected_peers: f.connectedPeers,
    members: f.members.map((m) => ({peer_id: m.peerId, rank: m.rank, url: m.url, self: m.self, connected: m.connected, connected_since: m.since === null ? null : new Date(m.since).toISOString(), last_dial_error: m.lastError})),
    mirrors: f.mirrors.map((m) => ({calendar: m.calendar, url: m.url, rank: m.rank, length: m.length, origin_head: m.originHead, lag_records: m.lagRecords, lag_seconds: m.lagSeconds, catching_up: m.catchingUp, forks: m.forks})),
    rejected_gossip: f.rejected,
    catch_up_failures: f.catchUpFailures,
    equivocations: f.forks.map((e) => ({calendar: e.calendar, length: e.length, evidence: e.evidence})),
  };
}

export function federationHtml(f: FederationStatus, esc: (s: string) => string): string {
  const members = f.members
    .map((m) => `<tr><td>${m.rank}</td><td><code>${esc(m.peerId)}</code></td><td>${esc(m.url)}</td><td>${m.self ? "this node" : m.connected ? "connected" : `not connected${m.lastError ? ` (${esc(m.lastError)})` : ""}`}</td></tr>`)
    .join("\n");
  const mirrors = f.mirrors
    .map((m) => `<tr><td><code>${esc(m.calendar)}</code></td><td>${m.length}</td><td>${m.originHead}</td><td>${m.lagRecords}</td><td>${m.lagSeconds} s</td><td>${m.forks > 0 ? "FORKED" : m.catchingUp ? "catching up" : "live"}</td></tr>`)
    .join("\n");
  const rejected = Object.entries(f.rejected)
    .filter(([, n]) => n > 0)
    .map(([r, n]) => `${esc(r)}: ${n}`)
    .join(", ");
  const forks = f.forks.map((e) => `<p><strong>EQUIVOCATION</strong>: calendar <code>${esc(e.calendar)}</code> signed two different journals at length ${e.length}; evidence in <code>${esc(e.evidence)}</code></p>`).join("\n");
  return `<h2>Federation ${esc(f.name)}</h2>
<p>${f.member ? "Member" : "Mirror (not a member)"}, peer id <code>${esc(f.peerId)}</code>, ${f.connectedPeers} peers connected, listening on ${f.listen.map((a) => `<code>${esc(a)}</code>`).join(" ")}</p>
${forks}
<table><tr><th>Rank</th><th>Member</th><th>URL</th><th>Connection</th></tr>
${members}
</table>
<h3>Mirrored calendars</h3>
<table><tr><th>Calendar</th><th>Records held</th><th>Origin's head</th><th>Lag (records)</th><th>Lag (time)</th><th>State</th></tr>
${mirrors}
</table>
<p>Gossip rejected: ${rejected || "none"}</p>
`;
}
