/**
 * Every route group of the HTTP API, in one list. A new group (journal
 * segments, federation status, stamp requests, …) is a file in this folder
 * exporting `xxxRoutes(modules): Route[]` and its `XxxModules` type; add the
 * type to {@link ApiRouteModules} and the call to {@link apiRoutes}.
 *
 * The stand-alone aggregator (`otsfed aggregator`) serves its own, smaller
 * table on the same server, listed in aggregator-routes.ts (its own file,
 * so that the aggregator loads none of the calendar's groups).
 */
import type {Route} from "../router.ts";
import {calendarApiRoutes} from "./calendar-api.ts";
import type {CalendarApiModules} from "./calendar-api.ts";
import {journalRoutes} from "./journal.ts";
import type {JournalRoutesModules} from "./journal.ts";
import {statusRoutes} from "./status.ts";
import type {StatusRoutesModules} from "./status.ts";

/** What the route groups use, together. */
export type ApiRouteModules = CalendarApiModules & StatusRoutesModules & JournalRoutesModules;

/** The routing table. */
export function apiRoutes(m: ApiRouteModules): Route[] {
  return [...calendarApiRoutes(m), ...statusRoutes(m), ...journalRoutes(m)];
}

