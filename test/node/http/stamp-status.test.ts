import {suite} from "uvu";
import * as assert from "uvu/assert";
import type {BitcoinStatus} from "../../../node/bitcoin/funding-watch.ts";
import {statusHtml, statusJson} from "../../../node/http/status.ts";
import type {StatusInfo} from "../../../node/http/status.ts";
import type {StamperStatus} from "../../../node/stamper/stamper.ts";

const txid = (c: string): string => c.repeat(64);

function bitcoinStatus(): BitcoinStatus {
  return {
    backend: "core-rpc",
    chain: "regtest",
    height: 212,
    bestBlock: txid("e"),
    address: "bcrt1qstampingaddress",
    descriptor: "wpkh(02abc)#checksum",
    balanceSats: 123_456_789n,
    error: null,
  };
}

/** Two cycles in flight (the newest with three versions), one waiting, two stamps, two problems. */
function stamperStatus(): StamperStatus {
  return {
    confirmationsRequired: 6,
    pendingCommitments: 17,
    unanchoredCommitments: 40,
    tip: "ab".repeat(32),
    inFlight: [
      {cycle: 3, firstHeight: 200, versions: [{txid: txid("1"), feeRate: 1, feeSats: 150, vsize: 150, leaves: 5, height: 200}]},
      {
        cycle: 4,
        firstHeight: 210,
        versions: [
          {txid: txid("2"), feeRate: 2, feeSats: 300, vsize: 150, leaves: 10, height: 210},
          {txid: txid("3"), feeRate: 3.333333, feeSats: 500, vsize: 150, leaves: 12, height: 211},
          {txid: txid("4"), feeRate: 5.126, feeSats: 769, vsize: 150, leaves: 17, height: 212},
        ],
      },
    ],
    waiting: [{txid: txid("5"), height: 209, confirmations: 4, leaves: 23}],
    recent: [
      {txid: txid("6"), height: 190, blockHash: txid("7"), leaves: 100, feeSats: 1234, vsize: 153, feeRate: 1234 / 153},
      {txid: txid("8"), height: 180, blockHash: txid("9"), leaves: 1, feeSats: 153, vsize: 153, feeRate: 1},
    ],
    problems: [
      {kind: "funds", message: "out of funds: send coins to <bcrt1q&\"addr'>", red: false},
      {kind: "deep-reorg", message: "block 190 left the chain <b>after</b> 6 confirmations", red: true},
    ],
    bestHeight: 213,
    bestBlock: txid("f"),
  };
}

function info(stamper: StamperStatus | null, bitcoin: BitcoinStatus | null = bitcoinStatus()): StatusInfo {
  return {
    version: "0.1.0",
    calendarId: "12D3KooWcalendar",
    uri: "http://127.0.0.1:14788",
    // node.ts passes the stamper's count when there is one.
    pendingCommitments: stamper ? stamper.pendingCommitments : 9,
    journalRecords: 60,
    journalSegments: 1,
    journalBytes: 4096,
    chainHash: "00".repeat(32),
    queueDepth: 2,
    roundIntervalMs: 1000,
    uptimeSeconds: 42,
    bitcoin,
    stamper,
  };
}

// ---
const json = suite("node/http/status statusJson with a stamper");

/** otsd's keys (PROTOCOL-NOTES §2.1) that mean the same thing here. */
const OTSD_KEYS = ["version", "pending_commitments", "txs_waiting_for_confirmation", "most_recent_tx", "prior_versions", "tip", "best_block", "block_height", "balance", "address", "transactions"];

json("should keep otsd's keys with the stamper's values :: in flight, waiting, stamps", () => {
  const s = JSON.parse(statusJson(info(stamperStatus()))) as Record<string, unknown>;
  for (const k of OTSD_KEYS) assert.ok(k in s, `key ${k}`);
  assert.is(s.version, "0.1.0");
  assert.is(s.pending_commitments, 17);
  assert.is(s.txs_waiting_for_confirmation, 1);
  // The transaction taking new commitments is the newest version of the newest cycle; its earlier versions are the prior ones.
  assert.is(s.most_recent_tx, txid("4"));
  assert.equal(s.prior_versions, [txid("2"), txid("3")]);
  assert.is(s.tip, "ab".repeat(32));
  // The stamper's view of the chain is fresher than the funding watch's.
  assert.is(s.best_block, txid("f"));
  assert.is(s.block_height, 213);
  assert.is(s.balance, 1.23456789);
  assert.is(s.address, "bcrt1qstampingaddress");
  assert.equal(s.transactions, [
    {txid: txid("6"), height: 190, block: txid("7"), commitments: 100, fee_sats: 1234, vsize: 153, fee_rate: 8.07},
    {txid: txid("8"), height: 180, block: txid("9"), commitments: 1, fee_sats: 153, vsize: 153, fee_rate: 1},
  ]);
  // Ours beside them.
  assert.is(s.confirmations_required, 6);
  assert.is(s.unanchored_commitments, 40);
  assert.is(s.balance_sats, 123_456_789);
  assert.equal(s.in_flight, [
    {first_height: 200, versions: [{txid: txid("1"), fee_rate: 1, fee_sats: 150, vsize: 150, commitments: 5, height: 200}]},
    {
      first_height: 210,
      versions: [
        {txid: txid("2"), fee_rate: 2, fee_sats: 300, vsize: 150, commitments: 10, height: 210},
        {txid: txid("3"), fee_rate: 3.33, fee_sats: 500, vsize: 150, commitments: 12, height: 211},
        {txid: txid("4"), fee_rate: 5.13, fee_sats: 769, vsize: 150, commitments: 17, height: 212},
      ],
    },
  ]);
  assert.equal(s.waiting, [{txid: txid("5"), height: 209, confirmations: 4, commitments: 23}]);
  assert.equal(s.stamper_problems, [
    {kind: "funds", message: "out of funds: send coins to <bcrt1q&\"addr'>", red: false},
    {kind: "deep-reorg", message: "block 190 left the chain <b>after</b> 6 confirmations", red: true},
  ]);
});

json("should give otsd's idle values when nothing is in flight :: idle stamper", () => {
  const st: StamperStatus = {...stamperStatus(), inFlight: [], waiting: [], recent: [], problems: [], tip: null, pendingCommitments: 0};
  const s = JSON.parse(statusJson(info(st))) as Record<string, unknown>;
  assert.is(s.pending_commitments, 0);
  assert.is(s.txs_waiting_for_confirmation, 0);
  assert.is(s.most_recent_tx, null);
  assert.equal(s.prior_versions, []);
  assert.is(s.tip, null);
  assert.equal(s.transactions, []);
  assert.equal(s.in_flight, []);
  assert.is(s.block_height, 213);
});

json("should still answer every otsd key without a stamper or a Bitcoin node :: no stamper", () => {
  const s = JSON.parse(statusJson(info(null, null))) as Record<string, unknown>;
  for (const k of OTSD_KEYS) assert.ok(k in s, `key ${k}`);
  assert.is(s.pending_commitments, 9);
  assert.is(s.txs_waiting_for_confirmation, 0);
  assert.is(s.most_recent_tx, null);
  assert.equal(s.prior_versions, []);
  assert.is(s.tip, null);
  assert.is(s.best_block, null);
  assert.is(s.block_height, null);
  assert.is(s.balance, null);
  assert.is(s.address, null);
  assert.equal(s.transactions, []);
  assert.is(s.confirmations_required, null);
  assert.is(s.unanchored_commitments, 9);
  // A Bitcoin node but no stamper yet: the funding watch's chain view.
  const b = JSON.parse(statusJson(info(null))) as Record<string, unknown>;
  assert.is(b.best_block, txid("e"));
  assert.is(b.block_height, 212);
});

json("should give each key the type otsd clients expect :: types", () => {
  const s = JSON.parse(statusJson(info(stamperStatus()))) as Record<string, unknown>;
  const types: Record<string, string> = {version: "string", pending_commitments: "number", txs_waiting_for_confirmation: "number", most_recent_tx: "string", tip: "string", best_block: "string", block_height: "number", balance: "number", address: "string"};
  for (const [k, t] of Object.entries(types)) assert.is(typeof s[k], t, k);
  assert.ok(Array.isArray(s.prior_versions));
  assert.ok(Array.isArray(s.transactions));
  for (const k of ["most_recent_tx", "tip", "best_block"]) assert.match(s[k] as string, /^[0-9a-f]{64}$/, k);
});

// ---
const html = suite("node/http/status statusHtml with a stamper");

html("should show the versions in flight, waiting transactions, stamps and problems :: content", () => {
  const page = statusHtml(info(stamperStatus()));
  assert.ok(page.startsWith("<!DOCTYPE html>"));
  for (const t of [txid("2"), txid("3"), txid("4")]) assert.ok(page.includes(t), `version ${t[0]}`);
  assert.ok(page.includes(`${txid("4")} (3 versions)`), "the newest cycle's latest version and its count");
  assert.ok(page.includes(`${txid("3")} 3.33 sat/vB, 500 sats, 12 commitments, built at 211`));
  assert.ok(page.includes("Transactions waiting for confirmation</th><td><code>1<"));
  assert.ok(page.includes(`${txid("5")} in block 209, 4/6 confirmations, 23 commitments`));
  assert.ok(page.includes(`${txid("6")} block 190: 100 commitments, 1234 sats fee, 153 vB (8.07 sat/vB)`));
  assert.ok(page.includes(`${txid("8")} block 180`));
  assert.ok(page.includes("Confirmations required</th><td><code>6<"));
  assert.ok(page.includes("Commitments without a proof yet</th><td><code>40<"));
  assert.ok(page.includes(`Current tip</th><td><code>${"ab".repeat(32)}<`));
  assert.ok(page.includes("Pending commitments</th><td><code>17<"));
  assert.ok(/<th[^>]*>Warning<\/th><td><code>out of funds/.test(page), "warning row");
  assert.ok(/<th[^>]*>PROBLEM<\/th><td><code>block 190 left the chain/.test(page), "red problem row");
});

// An older cycle stays unconfirmed when its block is reorged out while a
// newer cycle starts: the page must list it, as JSON's in_flight does.
html("should put a count of one in the singular :: 1 commitment, 1 version", () => {
  const page = statusHtml(info(stamperStatus()));
  assert.ok(page.includes(`${txid("8")} block 180: 1 commitment, 153 sats fee`), "a stamp of one commitment");
  assert.ok(page.includes(`${txid("1")} (1 version)`), "a transaction in flight with one version");
  assert.not.ok(/\b1 (commitments|versions|sats)\b/.test(page), "no '1 commitments'");
});

html("should list every cycle in flight, not only the newest :: older cycles", () => {
  const page = statusHtml(info(stamperStatus()));
  assert.ok(page.includes(`${txid("1")} 1.00 sat/vB, 150 sats, 5 commitments, built at 200`), "cycle 3's only version");
});

html("should escape everything it shows :: escaping", () => {
  const st = stamperStatus();
  const page = statusHtml({...info(st), uri: "http://x/<script>alert(1)</script>"});
  assert.not.ok(page.includes("<script>"), "no raw script tag");
  assert.not.ok(page.includes("<b>after</b>"), "no raw markup from a problem message");
  assert.not.ok(page.includes("<bcrt1q"), "no raw angle bracket from a problem message");
  assert.ok(page.includes("&#60;script&#62;alert(1)&#60;/script&#62;"));
  assert.ok(page.includes("&#60;b&#62;after&#60;/b&#62;"));
  assert.ok(page.includes("&#60;bcrt1q&#38;&#34;addr&#39;&#62;"));
});

html("should say stamping is off without a stamper, and show no in-flight rows when idle :: off and idle", () => {
  const off = statusHtml(info(null, null));
  assert.ok(off.includes("Stamping</th><td><code>off"));
  assert.not.ok(off.includes("Transaction in flight"));
  const idle = statusHtml(info({...stamperStatus(), inFlight: [], waiting: [], recent: [], problems: [], tip: null}));
  assert.not.ok(idle.includes("Transaction in flight"));
  assert.ok(idle.includes("Current tip</th><td><code>none<"));
  assert.ok(idle.includes("Transactions waiting for confirmation</th><td><code>0<"));
  assert.not.ok(idle.includes("PROBLEM"));
});

json.run();
html.run();
