/**
 * The exact replies otsd gives (PROTOCOL-NOTES §2.1), with the CORS headers
 * the public calendars add through nginx. Reason texts are short and use
 * only characters the Python client shows unchanged.
 */
import type {ServerResponse} from "node:http";

export const CORS_HEADERS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST GET"} as const;

export const CacheControl = {
  /** 200 proofs and 400 bad hex: never change. */
  year: "public, max-age=31536000",
  /** 404 pending or not found: may change soon. */
  minute: "public, max-age=60",
  /** Unknown paths. */
  hour: "public, max-age=3600",
  /** GET /tip. */
  tip: "public, max-age=10",
  /** Status page. */
  status: "public, max-age=5",
} as const;

export const Reason = {
  invalidLength: "invalid Content-Length",
  digestTooLong: "digest too long",
  chunked: "invalid Content-Length: chunked request bodies are not accepted",
  badHex: "commitment must be hex-encoded bytes",
  pending: "Pending confirmation in Bitcoin blockchain",
  notFound: "Not found",
  postNotFound: "not found",
  overloaded: "Calendar busy, retry later",
  stopping: "Calendar shutting down, retry later",
  journal: "Calendar journal unavailable",
  upstreams: "Upstream calendars unavailable, retry later",
  methodNotAllowed: "method not allowed",
  mirrorOnly: "This node is a mirror and takes no digests; submit them to a member calendar",
} as const;

export type Headers = Record<string, string | number>;

/** Send a complete reply with Content-Length and the CORS headers. */
export function send(res: ServerResponse, status: number, body: Uint8Array | string, contentType: string, headers: Headers = {}): void {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  res.writeHead(status, {...CORS_HEADERS, "Content-Type": contentType, "Content-Length": bytes.length, ...headers});
  res.end(bytes);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Headers = {}): void {
  send(res, status, text, "text/plain", headers);
}

/** A whole HTTP/1.1 error reply as raw bytes, for sockets the parser gave up on (no request object exists). */
export function rawErrorResponse(status: number, statusText: string, reason: string): string {
  const cors = Object.entries(CORS_HEADERS).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return `HTTP/1.1 ${status} ${statusText}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n${cors}Connection: close\r\n\r\n${reason}`;
}
