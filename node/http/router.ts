/**
 * The HTTP API's routing table: method + path pattern → a small handler,
 * each with its metric label. Route groups (routes/*.ts) return their rows;
 * routes/index.ts lists the groups; the server (server.ts) matches each
 * request here and owns everything around the handler (node:http, CORS,
 * OPTIONS, 404/405, refusals while stopping, metrics).
 *
 * Patterns are exact paths (`/tip`) or prefixes ending in `*`
 * (`/timestamp/*`), whose handler gets the rest of the raw request target
 * (query included, undecoded) as `rest`. HEAD requests match GET routes
 * (node:http sends no body for them).
 */
import type {IncomingMessage, ServerResponse} from "node:http";
import {HttpError, HttpErrorCode} from "./errors.ts";

/** The methods a route may have (HEAD requests match GET routes). */
export type RouteMethod = "GET" | "POST";

/** What a handler gets. */
export type RouteRequest = {
  req: IncomingMessage;
  res: ServerResponse;
  /** For a prefix route, the request target after the prefix; "" for an exact route. */
  rest: string;
  /** False once the server has begun stopping. */
  accepting: boolean;
};

/** Answers one request; may be async. A throw or rejection is a bug: the server logs it and answers 500. */
export type RouteHandler = (r: RouteRequest) => void | Promise<void>;

/** One row of the routing table. */
export type Route = {
  method: RouteMethod;
  /** `/exact` or `/prefix/*`. */
  path: string;
  /**
   * The metric label (`calendar_http_requests_total{route}`): fixed here and
   * never taken from the request, so the label set is bounded by this table.
   */
  label: string;
  /**
   * New work the server refuses once it is stopping (503 "Calendar shutting
   * down", Connection: close), e.g. digests; reads still answer.
   */
  refuseWhileStopping?: boolean;
  handle: RouteHandler;
};

/** The route a request matched and the rest of its target after a prefix. */
export type RouteMatch = {route: Route; rest: string};

/** Matches a request to its route: exact paths by one map lookup (the hot POST /digest), then prefixes in table order. */
export class Router {
  private readonly exact = new Map<string, Route>();
  private readonly prefixes: Array<{method: RouteMethod; prefix: string; route: Route}> = [];

  /** Refuses two routes with the same method and path (HTTP_DUPLICATE_ROUTE). */
  constructor(routes: readonly Route[]) {
    const seen = new Set<string>();
    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      if (seen.has(key)) throw new HttpError(HttpErrorCode.DUPLICATE_ROUTE, `two routes for ${key}`);
      seen.add(key);
      if (route.path.endsWith("*")) this.prefixes.push({method: route.method, prefix: route.path.slice(0, -1), route});
      else this.exact.set(key, route);
    }
  }

  /** The route for `method` (HEAD as GET) and the raw request target, or null. */
  match(method: string, target: string): RouteMatch | null {
    const m = method === "HEAD" ? "GET" : method;
    const route = this.exact.get(`${m} ${target}`);
    if (route) return {route, rest: ""};
    for (const p of this.prefixes) if (p.method === m && target.startsWith(p.prefix)) return {route: p.route, rest: target.slice(p.prefix.length)};
    return null;
  }
}
