/**
 * The federation's Prometheus metrics, created once per node (like
 * node/metrics.ts) and fed by whichever Federation runs. Labels are bounded
 * by the member count (peer ids from the definition) and the fixed reject
 * reasons; nothing a peer sends becomes a label.
 */
import {Counter, Gauge} from "prom-client";
import type {Registry} from "prom-client";
import type {FederationStatus} from "./federation.ts";

export type FederationMetrics = {
  /** The running federation's report, read at scrape time; null while stopped. */
  source: (() => FederationStatus) | null;
  gossipRejected: Counter<"reason">;
  piecesImported: Counter<"source">;
  recordsImported: Counter<"source">;
  catchUpFailures: Counter<"code">;
  equivocations: Counter<"calendar">;
};

export function createFederationMetrics(register: Registry): FederationMetrics {
  const m: FederationMetrics = {
    source: null,
    gossipRejected: new Counter({name: "calendar_federation_gossip_rejected_total", help: "Gossip messages rejected by validation, by reason", labelNames: ["reason"], registers: [register]}),
    piecesImported: new Counter({name: "calendar_federation_pieces_imported_total", help: "Journal pieces appended to mirrors, by source (gossip or catch-up)", labelNames: ["source"], registers: [register]}),
    recordsImported: new Counter({name: "calendar_federation_records_imported_total", help: "Journal records appended to mirrors, by source", labelNames: ["source"], registers: [register]}),
    catchUpFailures: new Counter({name: "calendar_federation_catch_up_failures_total", help: "Catch-up replies refused (bytes that do not verify, by code) or streams that failed", labelNames: ["code"], registers: [register]}),
    equivocations: new Counter({name: "calendar_federation_equivocations_total", help: "Forks detected: two signed statements of one calendar that disagree", labelNames: ["calendar"], registers: [register]}),
  };
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge<string>, s: FederationStatus) => void): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [register],
      collect() {
        this.reset();
        const s = m.source?.();
        if (s) fill(this, s);
      },
    });
  };
  gauge("calendar_federation_members_connected", "Other members this node holds a connection to", [], (g, s) => g.set(s.members.filter((x) => !x.self && x.connected).length));
  gauge("calendar_federation_member_connected", "1 when connected to the member, 0 when not", ["member"], (g, s) => {
    for (const x of s.members) if (!x.self) g.set({member: x.peerId}, x.connected ? 1 : 0);
  });
  gauge("calendar_federation_peers", "libp2p peers connected (members and mirrors)", [], (g, s) => g.set(s.connectedPeers));
  gauge("calendar_federation_mirror_records", "Records held of each mirrored calendar", ["calendar"], (g, s) => {
    for (const x of s.mirrors) g.set({calendar: x.calendar}, x.length);
  });
  gauge("calendar_federation_mirror_lag_records", "Records the origin's newest known head has beyond our copy", ["calendar"], (g, s) => {
    for (const x of s.mirrors) g.set({calendar: x.calendar}, x.lagRecords);
  });
  gauge("calendar_federation_mirror_lag_seconds", "Seconds since our copy first fell behind the origin's known head (0 when caught up)", ["calendar"], (g, s) => {
    for (const x of s.mirrors) g.set({calendar: x.calendar}, x.lagSeconds);
  });
  return m;
}
