/**
 * The status page at `/`: HTML for people, JSON (with a real
 * application/json Content-Type, unlike otsd) for `Accept: application/json`.
 * Keys follow otsd's where they mean the same thing.
 */
export type StatusInfo = {
  version: string;
  calendarId: string;
  uri: string;
  pendingCommitments: number;
  journalRecords: number;
  journalSegments: number;
  journalBytes: number;
  chainHash: string;
  queueDepth: number;
  roundIntervalMs: number;
  uptimeSeconds: number;
};

/** otsd's key names where they apply (PROTOCOL-NOTES §2.1), then ours. */
export function statusJson(s: StatusInfo): string {
  return JSON.stringify({
    version: s.version,
    pending_commitments: s.pendingCommitments,
    txs_waiting_for_confirmation: 0,
    most_recent_tx: null,
    tip: null,
    calendar_id: s.calendarId,
    uri: s.uri,
    journal_records: s.journalRecords,
    journal_segments: s.journalSegments,
    journal_bytes: s.journalBytes,
    chain_hash: s.chainHash,
    queue_depth: s.queueDepth,
    round_interval_ms: s.roundIntervalMs,
    uptime_seconds: s.uptimeSeconds,
  });
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function statusHtml(s: StatusInfo): string {
  const rows: Array<[string, string]> = [
    ["Version", s.version],
    ["Calendar URI", s.uri],
    ["Calendar id", s.calendarId],
    ["Pending commitments", String(s.pendingCommitments)],
    ["Transactions waiting for confirmation", "0 (no Bitcoin stamper configured)"],
    ["Journal records", String(s.journalRecords)],
    ["Journal segments", String(s.journalSegments)],
    ["Journal bytes", String(s.journalBytes)],
    ["Journal chain hash", s.chainHash],
    ["Digests waiting for a round", String(s.queueDepth)],
    ["Minimum round interval", `${s.roundIntervalMs} ms`],
    ["Uptime", `${s.uptimeSeconds} s`],
  ];
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>OpenTimestamps calendar ${esc(s.uri)}</title></head>
<body><h1>OpenTimestamps calendar</h1>
<p>This is an <a href="https://opentimestamps.org">OpenTimestamps</a> calendar server (otsfed). Use it with <code>ots stamp -c ${esc(s.uri)}</code>.</p>
<table>
${rows.map(([k, v]) => `<tr><th align="left">${esc(k)}</th><td><code>${esc(v)}</code></td></tr>`).join("\n")}
</table>
</body></html>
`;
}
