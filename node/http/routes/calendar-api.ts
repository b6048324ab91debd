/**
 * The OpenTimestamps calendar API itself (PROTOCOL-NOTES §2), byte for byte
 * as otsd answers it:
 *
 *   POST /digest            0..64-byte body, any Content-Type → 200 partial proof
 *   GET  /timestamp/<hex>   200 complete proof | 404 "Pending confirmation in Bitcoin blockchain"
 *                           | 404 "Timestamped by transaction <txid>; waiting for K confirmations"
 *                           | 404 "Not found" | 400 bad hex
 *   GET  /tip               200 the 32-byte merkle tip of the newest unconfirmed stamp | 404 empty
 */
import type {CalendarRole, CommitmentStatus} from "../../calendar/calendar.ts";
import {AggregatorError, AggregatorErrorCode, MAX_DIGEST_LENGTH} from "../../calendar/aggregator.ts";
import {readBody} from "../body.ts";
import {CacheControl, Reason, send, sendText} from "../responses.ts";
import type {Route, RouteRequest} from "../router.ts";

/** What POST /digest uses: whatever takes digests into rounds (the aggregator, with either round sink). */
export type DigestRouteModules = {
  /** Takes a digest; resolves with its proof once its round is durable (the aggregator). */
  aggregator: {submit(digest: Uint8Array): Promise<Uint8Array>};
};

/** What the calendar API routes use, each as narrow as the route needs. */
export type CalendarApiModules = DigestRouteModules & {
  /** Finds a commitment in whichever calendar holds it (the registry: own and mirrors) and how far along it is. */
  commitments: {lookup(msg: Uint8Array): Promise<{calendar: {role: CalendarRole}; status: NonNullable<CommitmentStatus>} | null>};
  /** The stamper's view, when there is one. */
  stamper?: {waitingReason(seq: number): string | null; tip(): Uint8Array | null} | null;
};

/** Hex of either case, as Python's unhexlify takes it; Node's decoder after the check (the hot path of GET /timestamp). */
function decodeHex(s: string): Uint8Array | null {
  return s.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(s) ? Buffer.from(s, "hex") : null;
}

/** Longest hex we even try to decode: twice the 4096-byte message limit. */
const MAX_TIMESTAMP_HEX = 2 * 4096;

async function postDigest(m: DigestRouteModules, {req, res}: RouteRequest): Promise<void> {
  // node's parser has already refused non-numeric, negative or conflicting
  // Content-Length values (the server's clientError handler); here the
  // header is absent or valid.
  if (req.headers["transfer-encoding"] !== undefined) {
    res.setHeader("Connection", "close");
    sendText(res, 400, Reason.chunked);
    return;
  }
  const cl = req.headers["content-length"];
  if (cl === undefined || !/^\d+$/.test(cl)) {
    res.setHeader("Connection", "close");
    sendText(res, 400, Reason.invalidLength);
    return;
  }
  if (Number(cl) > MAX_DIGEST_LENGTH) {
    // Do not read a body we will refuse; close so its bytes are not parsed as a request.
    res.setHeader("Connection", "close");
    sendText(res, 400, Reason.digestTooLong);
    return;
  }
  const digest = await readBody(req, MAX_DIGEST_LENGTH);
  if (digest === null) {
    res.setHeader("Connection", "close");
    sendText(res, 400, Reason.digestTooLong);
    return;
  }
  let proof: Uint8Array;
  try {
    proof = await m.aggregator.submit(digest);
  } catch (e) {
    if (e instanceof AggregatorError) {
      if (e.code === AggregatorErrorCode.OVERLOADED) sendText(res, 503, Reason.overloaded, {"Retry-After": 1});
      else if (e.code === AggregatorErrorCode.STOPPING) {
        res.setHeader("Connection", "close");
        sendText(res, 503, Reason.stopping, {"Retry-After": 1});
      } else if (e.code === AggregatorErrorCode.DIGEST_TOO_LONG) sendText(res, 400, Reason.digestTooLong);
      else if (e.code === AggregatorErrorCode.NOT_ACCEPTING) sendText(res, 403, Reason.mirrorOnly);
      // A stand-alone aggregator whose upstreams did not accept the round: they may within seconds.
      else if (e.code === AggregatorErrorCode.UPSTREAMS_UNAVAILABLE) sendText(res, 503, Reason.upstreams, {"Retry-After": 5});
      else sendText(res, 503, Reason.journal, {"Retry-After": 10});
      return;
    }
    throw e;
  }
  send(res, 200, proof, "application/octet-stream");
}

async function getTimestamp(m: CalendarApiModules, {res, rest}: RouteRequest): Promise<void> {
  const msg = rest.length <= MAX_TIMESTAMP_HEX ? decodeHex(rest) : null;
  if (msg === null) {
    sendText(res, 400, Reason.badHex, {"Cache-Control": CacheControl.year});
    return;
  }
  const found = await m.commitments.lookup(msg);
  if (found?.status.state === "stamped") {
    send(res, 200, found.status.proof, "application/octet-stream", {"Cache-Control": CacheControl.year});
    return;
  }
  // Only the own calendar's stamper knows of a stamp mined but not yet deep enough; a mirrored commitment is simply pending.
  const waiting = found?.calendar.role === "origin" ? (m.stamper?.waitingReason(found.status.seq) ?? null) : null;
  const reason = found === null ? Reason.notFound : (waiting ?? Reason.pending);
  sendText(res, 404, reason, {"Cache-Control": CacheControl.minute});
}

function getTip(m: CalendarApiModules, {res}: RouteRequest): void {
  const tip = m.stamper?.tip() ?? null;
  // otsd's idle answer is a 404 with an empty body and no Cache-Control.
  if (tip === null) send(res, 404, "", "text/plain");
  else send(res, 200, tip, "application/octet-stream", {"Cache-Control": CacheControl.tip});
}

/**
 * POST /digest alone, with every validation, limit and refusal above: what a
 * calendar and a stand-alone aggregator (routes/index.ts) both serve.
 */
export function digestRoute(m: DigestRouteModules): Route {
  return {method: "POST", path: "/digest", label: "digest", refuseWhileStopping: true, handle: (r) => postDigest(m, r)};
}

/** POST /digest, GET /timestamp/<hex>, GET /tip. */
export function calendarApiRoutes(m: CalendarApiModules): Route[] {
  return [
    digestRoute(m),
    {method: "GET", path: "/timestamp/*", label: "timestamp", handle: (r) => getTimestamp(m, r)},
    {method: "GET", path: "/tip", label: "tip", handle: (r) => getTip(m, r)},
  ];
}
