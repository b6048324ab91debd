import {suite} from "uvu";
import * as assert from "uvu/assert";
import {HttpError} from "../../../node/http/errors.ts";
import {Router} from "../../../node/http/router.ts";
import type {Route} from "../../../node/http/router.ts";
import {apiRoutes} from "../../../node/http/routes/index.ts";

const noop = (): void => {};
const route = (method: Route["method"], path: string, label: string): Route => ({method, path, label, handle: noop});

// ---
const R = suite("node/http/router Router");

R("should match exact paths and prefixes by method :: rest is the raw target after the prefix, HEAD as GET", () => {
  const r = new Router([route("POST", "/digest", "digest"), route("GET", "/timestamp/*", "timestamp"), route("GET", "/", "status")]);
  assert.is(r.match("POST", "/digest")?.route.label, "digest");
  assert.is(r.match("POST", "/digest")?.rest, "");
  assert.is(r.match("GET", "/digest"), null, "another method");
  assert.is(r.match("POST", "/digest?x=1"), null, "exact means exact");
  const ts = r.match("GET", "/timestamp/00ff?x=1");
  assert.is(ts?.route.label, "timestamp");
  assert.is(ts?.rest, "00ff?x=1");
  assert.is(r.match("GET", "/timestamp/")?.rest, "");
  assert.is(r.match("GET", "/timestamp"), null, "the prefix includes its slash");
  assert.is(r.match("HEAD", "/")?.route.label, "status");
  assert.is(r.match("DELETE", "/"), null);
});

R("should refuse two routes for one method and path :: HTTP_DUPLICATE_ROUTE", () => {
  assert.throws(() => new Router([route("GET", "/tip", "tip"), route("GET", "/tip", "tip2")]), (e: unknown) => e instanceof HttpError && e.code === "HTTP_DUPLICATE_ROUTE");
  // The same path under another method is another route.
  new Router([route("GET", "/x", "a"), route("POST", "/x", "b")]);
});

R("should list every route of the API once, each with its own label :: routes/index.ts", () => {
  const routes = apiRoutes({
    aggregator: {submit: async () => new Uint8Array(0)},
    commitments: {lookup: async () => null},
    status: () => {
      throw new Error("not called");
    },
    health: () => null,
    register: null,
  });
  new Router(routes);
  assert.equal(routes.map((x) => `${x.method} ${x.path} ${x.label}`), ["POST /digest digest", "GET /timestamp/* timestamp", "GET /tip tip", "GET / status", "GET /healthz healthz", "GET /metrics metrics"]);
  assert.equal(routes.filter((x) => x.refuseWhileStopping).map((x) => x.path), ["/digest"], "only new digests are refused while stopping");
});

R.run();
