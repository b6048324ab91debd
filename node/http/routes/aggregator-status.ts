/**
 * The stand-alone aggregator's status page, GET / (HTML or JSON, as the
 * calendar's; node/http/aggregator-status.ts).
 */
import {aggregatorStatusHtml, aggregatorStatusJson} from "../aggregator-status.ts";
import type {AggregatorStatusInfo} from "../aggregator-status.ts";
import {CacheControl, send} from "../responses.ts";
import type {Route, RouteRequest} from "../router.ts";

/** What the aggregator's status route uses. */
export type AggregatorStatusRoutesModules = {
  /** The status page's figures, gathered per request. */
  aggregatorStatus: () => AggregatorStatusInfo;
};

function getStatus(m: AggregatorStatusRoutesModules, {req, res}: RouteRequest): void {
  const s = m.aggregatorStatus();
  // otsd's exact-match rule (PROTOCOL-NOTES §2.1), as the calendar's page.
  const json = req.headers.accept === "application/json";
  send(res, 200, json ? aggregatorStatusJson(s) : aggregatorStatusHtml(s), json ? "application/json" : "text/html; charset=utf-8", {"Cache-Control": CacheControl.status, Vary: "Accept"});
}

/** GET /. */
export function aggregatorStatusRoutes(m: AggregatorStatusRoutesModules): Route[] {
  return [{method: "GET", path: "/", label: "status", handle: (r) => getStatus(m, r)}];
}
