/** Reading small request bodies. */
import type {IncomingMessage} from "node:http";
import {HttpError, HttpErrorCode} from "./errors.ts";

/**
 * Read a request body of at most `max` bytes; null if more arrives (a guard:
 * callers check Content-Length first). A client that goes away before the
 * declared body is complete rejects with HTTP_CLIENT_ABORTED: the client's
 * doing, not a node error, so the server logs it at debug and counts it as
 * aborted.
 */
export function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let len = 0;
    let over = false;
    let ended = false;
    const aborted = (): void => reject(new HttpError(HttpErrorCode.CLIENT_ABORTED, "client closed the connection before the request body was complete"));
    req.on("data", (c: Buffer) => {
      len += c.length;
      if (len > max) over = true;
      else chunks.push(c);
    });
    req.on("end", () => {
      ended = true;
      resolve(over ? null : new Uint8Array(Buffer.concat(chunks, len)));
    });
    // node reports a cut-off body as an 'error' (ECONNRESET "aborted"); 'close'
    // without 'end' covers a request destroyed without one.
    req.on("error", aborted);
    req.on("close", () => {
      if (!ended) aborted();
    });
  });
}
