/** Typed errors of the HTTP API server (STYLE §4): bounded `HTTP_…` codes. */
import {CalendarError} from "../../protocol/errors.ts";

/** What went wrong starting or routing the HTTP API: the `HTTP_…` codes. */
export const HttpErrorCode = {
  /** `listen` is not `host:port`. */
  BAD_LISTEN_ADDRESS: "HTTP_BAD_LISTEN_ADDRESS",
  /** The OS refused the address (in use, not ours, no permission). */
  LISTEN_FAILED: "HTTP_LISTEN_FAILED",
  /** The server listened but has no TCP address (a pipe?). */
  NO_TCP_ADDRESS: "HTTP_NO_TCP_ADDRESS",
  /** The address was asked for while not listening. */
  NOT_LISTENING: "HTTP_NOT_LISTENING",
  /** Two routes for the same method and path. */
  DUPLICATE_ROUTE: "HTTP_DUPLICATE_ROUTE",
  /** The client closed the connection before its request was complete (not a node error). */
  CLIENT_ABORTED: "HTTP_CLIENT_ABORTED",
} as const;
export type HttpErrorCode = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

/** The HTTP API server could not do what was asked; `cause` holds the OS error, if any. */
export class HttpError extends CalendarError<{code: HttpErrorCode}> {
  constructor(code: HttpErrorCode, message: string, options?: {cause?: unknown}) {
    super({code}, message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
