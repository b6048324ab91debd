/**
 * Every route group of the stand-alone aggregator's HTTP API (`otsfed
 * aggregator`), in one list, as routes/index.ts lists the calendar's: a
 * new group is a file in this folder; add its modules type to
 * {@link AggregatorApiRouteModules} and its call to {@link aggregatorApiRoutes}.
 */
import type {Route} from "../router.ts";
import {aggregatorStatusRoutes} from "./aggregator-status.ts";
import type {AggregatorStatusRoutesModules} from "./aggregator-status.ts";
import {digestRoute} from "./calendar-api.ts";
import type {DigestRouteModules} from "./calendar-api.ts";
import {healthRoutes} from "./status.ts";
import type {HealthRoutesModules} from "./status.ts";

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
