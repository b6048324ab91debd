/**
 * The status page at `/`: HTML for people, JSON (with a real
 * application/json Content-Type, unlike otsd) for `Accept: application/json`.
 * Keys follow otsd's where they mean the same thing.
 */
import type {BitcoinStatus} from "../bitcoin/funding-watch.ts";
import type {StamperStatus} from "../stamper/stamper.ts";
import {plural} from "../config/text.ts";
import type {FederationStatus} from "../federation/federation.ts";
import {federationHtml, federationJson} from "./federation-status.ts";

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
  /** Null when the node runs without a Bitcoin backend. */
  stamper: StamperStatus | null;
  /** Null (or absent) when the node runs alone. */
  federation?: FederationStatus | null;
};

/** The unconfirmed transaction taking new commitments: the newest in flight. */
function latestInFlight(st: StamperStatus | null): StamperStatus["inFlight"][number] | null {
  return st?.inFlight.at(-1) ?? null;
}

const BTC = 100_000_000;

/** otsd's key names where they apply (PROTOCOL-NOTES §2.1), then ours. */
export function statusJson(s: StatusInfo): string {
  const st = s.stamper;
  const flight = latestInFlight(st);
  return JSON.stringify({
    version: s.version,
    pending_commitments: s.pendingCommitments,
    txs_waiting_for_confirmation: st?.waiting.length ?? 0,
    most_recent_tx: flight?.versions.at(-1)?.txid ?? null,
    prior_versions: flight?.versions.slice(0, -1).map((v) => v.txid) ?? [],
    tip: st?.tip ?? null,
    best_block: st?.bestBlock ?? s.bitcoin?.bestBlock ?? null,
    block_height: st?.bestHeight ?? s.bitcoin?.height ?? null,
    // otsd reports the balance in BTC; satoshis beside it avoid float rounding.
    balance: s.bitcoin?.balanceSats == null ? null : Number(s.bitcoin.balanceSats) / BTC,
    address: s.bitcoin?.address ?? null,
    balance_sats: s.bitcoin?.balanceSats == null ? null : Number(s.bitcoin.balanceSats),
    bitcoin_backend: s.bitcoin?.backend ?? null,
    bitcoin_chain: s.bitcoin?.chain ?? null,
    funding_descriptor: s.bitcoin?.descriptor ?? null,
    bitcoin_error: s.bitcoin?.error ?? null,
    // The newest journaled stamps (otsd lists its recent transactions here).
    transactions: st?.recent.map((t) => ({txid: t.txid, height: t.height, block: t.blockHash, commitments: t.leaves, fee_sats: t.feeSats, vsize: t.vsize, fee_rate: Math.round(t.feeRate * 100) / 100})) ?? [],
    confirmations_required: st?.confirmationsRequired ?? null,
    unanchored_commitments: st?.unanchoredCommitments ?? s.pendingCommitments,
    in_flight: st?.inFlight.map((c) => ({first_height: c.firstHeight, versions: c.versions.map((v) => ({txid: v.txid, fee_rate: Math.round(v.feeRate * 100) / 100, fee_sats: v.feeSats, vsize: v.vsize, commitments: v.leaves, height: v.height}))})) ?? [],
    waiting: st?.waiting.map((w) => ({txid: w.txid, height: w.height, confirmations: w.confirmations, commitments: w.leaves})) ?? [],
    stamper_problems: st?.problems.map((p) => ({kind: p.kind, message: p.message, red: p.red})) ?? [],
    calendar_id: s.calendarId,
    uri: s.uri,
    journal_records: s.journalRecords,
    journal_segments: s.journalSegments,
    journal_bytes: s.journalBytes,
    chain_hash: s.chainHash,
    queue_depth: s.queueDepth,
    round_interval_ms: s.roundIntervalMs,
    uptime_seconds: s.uptimeSeconds,
    federation: s.federation ? federationJson(s.federation) : null,
  });
}

/** Text made safe inside HTML (every status page's values pass through it). */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function statusHtml(s: StatusInfo): string {
  const rows: Array<[string, string]> = [
    ["Version", s.version],
    ["Calendar URI", s.uri],
    ["Calendar id", s.calendarId],
    ["Pending commitments", String(s.pendingCommitments)],
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
  const st = s.stamper;
  if (st === null) rows.push(["Stamping", "off (no Bitcoin node configured)"]);
  else {
    rows.push(["Confirmations required", String(st.confirmationsRequired)], ["Commitments without a proof yet", String(st.unanchoredCommitments)], ["Current tip", st.tip ?? "none"]);
    // Usually one; an older one stays unconfirmed after a reorg while a newer one starts.
    for (const flight of st.inFlight) {
      const latest = flight.versions.at(-1);
      if (latest) rows.push(["Transaction in flight", `${latest.txid} (${plural(flight.versions.length, "version")})`]);
      for (const [i, v] of flight.versions.entries()) rows.push([`  version ${i + 1}`, `${v.txid} ${v.feeRate.toFixed(2)} sat/vB, ${plural(v.feeSats, "sat")}, ${plural(v.leaves, "commitment")}, built at ${v.height}`]);
    }
    rows.push(["Transactions waiting for confirmation", String(st.waiting.length)]);
    for (const w of st.waiting) rows.push(["  waiting", `${w.txid} in block ${w.height}, ${w.confirmations}/${plural(st.confirmationsRequired, "confirmation")}, ${plural(w.leaves, "commitment")}`]);
    for (const t of st.recent) rows.push(["Stamp", `${t.txid} block ${t.height}: ${plural(t.leaves, "commitment")}, ${plural(t.feeSats, "sat")} fee, ${t.vsize} vB (${t.feeRate.toFixed(2)} sat/vB)`]);
    for (const p of st.problems) rows.push([p.red ? "PROBLEM" : "Warning", p.message]);
  }
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>OpenTimestamps calendar ${esc(s.uri)}</title></head>
<body><h1>OpenTimestamps calendar</h1>
<p>This is an <a href="https://opentimestamps.org">OpenTimestamps</a> calendar server (otsfed). Use it with <code>ots stamp -c ${esc(s.uri)}</code>.</p>
<table>
${rows.map(([k, v]) => `<tr><th align="left">${esc(k)}</th><td><code>${esc(v)}</code></td></tr>`).join("\n")}
</table>
${s.federation ? federationHtml(s.federation, esc) : ""}</body></html>
`;
}
