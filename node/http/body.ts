/** Reading small request bodies. */
import type {IncomingMessage} from "node:http";

/** Read a request body of at most `max` bytes; null if more arrives (a guard: callers check Content-Length first). */
export function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let len = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      len += c.length;
      if (len > max) over = true;
      else chunks.push(c);
    });
    req.on("end", () => resolve(over ? null : new Uint8Array(Buffer.concat(chunks, len))));
    req.on("error", reject);
  });
}
