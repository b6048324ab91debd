/**
 * The status page at `/`: HTML for people, JSON (with a real
 * application/json Content-Type, unlike otsd) for `Accept: application/json`.
 * Keys follow otsd's where they mean the same thing.
 */
import type {BitcoinStatus} from "../bitcoin/funding-watch.ts";

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
  /** Null when the node runs without a Bitcoin backend. */
  bitcoin: BitcoinStatus | null;
};

const BTC = 100_000_000;

/** otsd's key names where they apply (PROTOCOL-NOTES §2.1), then ours. */
export function statusJson(s: StatusInfo): string {
  return JSON.stringify({
    version: s.version,
    pending_commitments: s.pendingCommitments,
    txs_waiting_for_confirmation: 0,
    most_recent_tx: null,
    tip: null,
    best_block: s.bitcoin?.bestBlock ?? null,
    block_height: s.bitcoin?.height ?? null,
    // otsd reports the balance in BTC; satoshis beside it avoid float rounding.
    balance: s.bitcoin?.balanceSats == null ? null : Number(s.bitcoin.balanceSats) / BTC,
    address: s.bitcoin?.address ?? null,
    balance_sats: s.bitcoin?.balanceSats == null ? null : Number(s.bitcoin.balanceSats),
    bitcoin_backend: s.bitcoin?.backend ?? null,
    bitcoin_chain: s.bitcoin?.chain ?? null,
    funding_descriptor: s.bitcoin?.descriptor ?? null,
    bitcoin_error: s.bitcoin?.error ?? null,
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
  const b = s.bitcoin;
  if (b === null) rows.push(["Bitcoin", "no Bitcoin node configured (--bitcoin-rpc)"]);
  else {
    rows.push(
      ["Bitcoin backend", `${b.backend}${b.chain ? ` (${b.chain})` : ""}`],
      ["Best block", b.bestBlock === null ? "unknown" : `${b.height} ${b.bestBlock}`],
      ["Stamping funds address", b.address ?? "unknown until the Bitcoin node answers"],
      ["Funding descriptor (watch-only)", b.descriptor ?? "unknown"],
      ["Balance", b.balanceSats === null ? "unknown" : `${(Number(b.balanceSats) / BTC).toFixed(8)} BTC`],
    );
    if (b.error !== null) rows.push(["Bitcoin node problem", b.error]);
  }
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
