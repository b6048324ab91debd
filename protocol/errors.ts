/**
 * The one base class for every typed error otsfed raises.
 *
 * `type` carries a bounded `code` (a prefixed string from a fixed set, the
 * only error value allowed as a metric label) plus per-domain metadata, so
 * callers branch on `err.code`, never on message text.
 */
export class CalendarError<T extends {code: string}> extends Error {
  readonly type: T;

  constructor(type: T, message?: string) {
    super(message ?? type.code);
    this.type = type;
    this.name = new.target.name;
  }

  get code(): T["code"] {
    return this.type.code;
  }
}
