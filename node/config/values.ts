/**
 * The value parsers option rows share. Each takes what a source gives (a
 * string from the environment or a flag, any JSON value from the config
 * file) and returns the typed value or throws {@link badValue} saying what
 * the value must be.
 */
import {badValue} from "./option-spec.ts";

/** A non-empty string. */
export function nonEmptyString(v: unknown): string {
  if (typeof v !== "string" || v.length === 0) throw badValue("must be a non-empty string");
  return v;
}

/** An integer from `min` to `max`: a JSON number or a string of digits. */
export function integer(v: unknown, min: number, max: number): number {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw badValue(`must be an integer from ${min} to ${max}`);
  return n;
}

/** A decimal number such as a feerate: a JSON number or a string "2", "0.1", "12.5". */
export function decimal(v: unknown, min: number, max: number): number {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw badValue(`must be a number from ${min} to ${max}`);
  return n;
}

const DURATION_UNIT_MS: Readonly<Record<string, number>> = {ms: 1, s: 1_000, m: 60_000, h: 3_600_000};

/** `0 ms`, `1 s`, `7 days`: how a range bound reads in a message. */
function durationText(ms: number): string {
  if (ms === 0) return "0 ms";
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} day${ms === 86_400_000 ? "" : "s"}`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}

/** `1h`, `2s`, `500ms`, `0`: a default as one would write it in a help line. */
export function durationValue(ms: number): string {
  if (ms === 0) return "0";
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/**
 * A duration in milliseconds from `minMs` to `maxMs`: a JSON number (ms) or
 * a string "500", "500ms", "30s", "10m", "1h". Whole numbers only; the range
 * is part of the refusal (`from 1 s to 7 days`).
 */
export function parseDuration(v: unknown, minMs: number, maxMs: number): number {
  const m = typeof v === "string" ? /^(\d+)(ms|s|m|h)?$/.exec(v) : null;
  const n = typeof v === "number" ? v : m ? Number(m[1]) * (DURATION_UNIT_MS[m[2] ?? "ms"] as number) : NaN;
  if (!Number.isSafeInteger(n) || n < minMs || n > maxMs) {
    throw badValue(`must be a duration like 500ms, 30s, 10m, 1h or a number of ms, from ${durationText(minMs)} to ${durationText(maxMs)}`);
  }
  return n;
}

/** A switch: a JSON boolean or the string "true" or "false". */
export function boolean(v: unknown): boolean {
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  throw badValue("must be true or false");
}
