/**
 * The node's own pages: GET / (status, HTML or JSON), GET /healthz and
 * GET /metrics (Prometheus). The last two, {@link healthRoutes}, are the
 * same for every otsfed daemon (the stand-alone aggregator's too).
 */
import {CacheControl, Reason, send, sendText} from "../responses.ts";
import type {Route, RouteRequest} from "../router.ts";
import {statusHtml, statusJson} from "../status.ts";
import type {StatusInfo} from "../status.ts";

/** What /healthz and /metrics use. */
export type HealthRoutesModules = {
  /** Null when healthy, else why not (journal failed, deep reorg): /healthz answers 503. */
  health: () => string | null;
  /** Problems that leave the calendar serving (out of funds, Bitcoin node down): /healthz stays 200 but says so. */
  warnings?: () => string[];
  /** The Prometheus registry (prom-client's `Registry`); null: /metrics is 404. */
  register: {metrics(): Promise<string>; readonly contentType: string} | null;
};

/** What the status routes use. */
export type StatusRoutesModules = HealthRoutesModules & {
  /** The status page's figures, gathered per request. */
  status: () => StatusInfo;
};

function getStatus(m: StatusRoutesModules, {req, res}: RouteRequest): void {
  const s = m.status();
  // otsd's exact-match rule (PROTOCOL-NOTES §2.1).
  const json = req.headers.accept === "application/json";
  const body = json ? statusJson(s) : statusHtml(s);
  send(res, 200, body, json ? "application/json" : "text/html; charset=utf-8", {"Cache-Control": CacheControl.status, Vary: "Accept"});
}

function getHealth(m: HealthRoutesModules, {res, accepting}: RouteRequest): void {
  const problem = accepting ? m.health() : "stopping";
  const warnings = m.warnings?.() ?? [];
  if (problem !== null) sendText(res, 503, problem, {"Cache-Control": "no-store"});
  else if (warnings.length > 0) sendText(res, 200, `degraded: ${warnings.join("; ")}`, {"Cache-Control": "no-store"});
  else sendText(res, 200, "ok", {"Cache-Control": "no-store"});
}

async function getMetrics(m: HealthRoutesModules, {res}: RouteRequest): Promise<void> {
  if (!m.register) {
    sendText(res, 404, Reason.notFound);
    return;
  }
  send(res, 200, await m.register.metrics(), m.register.contentType, {"Cache-Control": "no-store"});
}

/** GET /healthz, GET /metrics. */
export function healthRoutes(m: HealthRoutesModules): Route[] {
  return [
    {method: "GET", path: "/healthz", label: "healthz", handle: (r) => getHealth(m, r)},
    {method: "GET", path: "/metrics", label: "metrics", handle: (r) => getMetrics(m, r)},
  ];
}

/** GET /, GET /healthz, GET /metrics. */
export function statusRoutes(m: StatusRoutesModules): Route[] {
  return [{method: "GET", path: "/", label: "status", handle: (r) => getStatus(m, r)}, ...healthRoutes(m)];
}
