/**
 * Every route group of the HTTP API, in one list. A new group (journal
 * segments, federation status, stamp requests, …) is a file in this folder
 * exporting `xxxRoutes(modules): Route[]` and its `XxxModules` type; add the
 * type to {@link ApiRouteModules} and the call to {@link apiRoutes}.
 *
 * The stand-alone aggregator (`otsfed aggregator`) serves its own, smaller
 * table on the same server: {@link aggregatorApiRoutes}.
 */
import type {Route} from "../router.ts";
import {aggregatorStatusRoutes} from "./aggregator-status.ts";
import type {AggregatorStatusRoutesModules} from "./aggregator-status.ts";
import {calendarApiRoutes, digestRoute} from "./calendar-api.ts";
import type {CalendarApiModules, DigestRouteModules} from "./calendar-api.ts";
import {journalRoutes} from "./journal.ts";
import type {JournalRoutesModules} from "./journal.ts";
import {healthRoutes, statusRoutes} from "./status.ts";
import type {HealthRoutesModules, StatusRoutesModules} from "./status.ts";

/** What the route groups use, together. */
export type ApiRouteModules = CalendarApiModules & StatusRoutesModules & JournalRoutesModules;

/** The routing table. */
export function apiRoutes(m: ApiRouteModules): Route[] {
  return [...calendarApiRoutes(m), ...statusRoutes(m), ...journalRoutes(m)];
}

/** What the aggregator's route groups use, together. */
export type AggregatorApiRouteModules = DigestRouteModules & AggregatorStatusRoutesModules & HealthRoutesModules;

/**
 * The stand-alone aggregator's routing table: POST /digest exactly as a
 * calendar serves it, its status page, /healthz and /metrics. No
 * /timestamp: clients upgrade from the upstream calendars named in their
 * proofs' Pending attestations.
 */
export function aggregatorApiRoutes(m: AggregatorApiRouteModules): Route[] {
  return [digestRoute(m), ...aggregatorStatusRoutes(m), ...healthRoutes(m)];
}
