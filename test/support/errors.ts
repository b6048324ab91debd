import * as assert from "uvu/assert";
import {OtsError} from "../../protocol/ots/index.ts";

/** Run `fn`, require it to throw an OtsError, and return its code. */
export function otsErrorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, OtsError);
    return (e as OtsError).code;
  }
  assert.unreachable("did not throw");
  return "";
}
