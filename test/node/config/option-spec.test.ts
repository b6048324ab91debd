import {suite} from "uvu";
import * as assert from "uvu/assert";
import {applyOption, badValue, optionSource, OptionsError, OptionsErrorCode, scopeOptions} from "../../../node/config/option-spec.ts";
import type {OptionSpec} from "../../../node/config/option-spec.ts";
import {integer} from "../../../node/config/values.ts";
import {OPTION_SPECS} from "../../../node/options.ts";

type Part = {n: number};
type Whole = {a: Part; b: Part};

const nSpec: OptionSpec<Part> = {key: "n", env: "TEST_N", flag: "--n", help: "a number", apply: (o, v) => void (o.n = integer(v, 1, 9))};

// ---
const Scope = suite("node/config/option-spec scopeOptions");

Scope("should apply a module's row to its own part only :: two parts, same row", () => {
  const w: Whole = {a: {n: 0}, b: {n: 0}};
  const [toB] = scopeOptions([nSpec], (o: Whole) => o.b);
  toB?.apply(w, "7");
  assert.equal(w, {a: {n: 0}, b: {n: 7}});
  assert.is(toB?.flag, "--n");
  assert.is(toB?.help, "a number");
});

Scope.run();

// ---
const Apply = suite("node/config/option-spec applyOption");

Apply("should refuse a bad value naming its source :: typed refusal, one format", () => {
  try {
    applyOption({n: 0}, nSpec, "10", optionSource.configKey("x.json", "n"));
    assert.unreachable("accepted 10");
  } catch (e) {
    assert.ok(e instanceof OptionsError);
    assert.is(e.code, OptionsErrorCode.BAD_VALUE);
    assert.is(e.message, "config file x.json: key 'n': must be an integer from 1 to 9");
  }
  assert.throws(() => applyOption({n: 0}, nSpec, "x", optionSource.env("TEST_N")), /^environment TEST_N: must be an integer/);
  assert.throws(() => applyOption({n: 0}, nSpec, "0", optionSource.flag("--n")), /^flag --n: must be an integer/);
});

Apply("should let a bug in a row through as it is :: untyped error", () => {
  const buggy: OptionSpec<Part> = {...nSpec, apply: () => {
    throw new TypeError("bug");
  }};
  assert.throws(() => applyOption({n: 0}, buggy, "1", "flag --n"), (e: unknown) => e instanceof TypeError && !(e instanceof OptionsError));
  assert.is(badValue("must be x").code, "OPTIONS_BAD_VALUE");
});

Apply.run();

// ---
const Rows = suite("node/options OPTION_SPECS");

Rows("should give every setting its own key, variable and flag :: no two modules' rows collide", () => {
  for (const field of ["key", "env", "flag"] as const) {
    const names = OPTION_SPECS.map((s) => s[field]);
    assert.is(new Set(names).size, names.length, field);
  }
  for (const s of OPTION_SPECS) {
    assert.ok(s.env === `OTSFED_${s.key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`, `${s.key} / ${s.env}`);
    assert.ok(s.flag === `--${s.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, `${s.key} / ${s.flag}`);
  }
});

Rows.run();
