import {readFile} from "node:fs/promises";
import {fileURLToPath} from "node:url";
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {OptionsError} from "../../node/config/option-spec.ts";
import {AGGREGATOR_OPTION_SPECS, aggregatorOptionsHelp, defaultAggregatorNodeOptions, resolveAggregatorOptions} from "../../node/aggregator-options.ts";
import {withTimeout} from "../support/timeout.ts";

const A = "https://a.example.net";
const B = "https://b.example.net";
const C = "http://127.0.0.1:14788";

const files: Record<string, string> = {
  "/agg.json": JSON.stringify({upstreams: [A, B], minUpstreams: 2, upstreamDeadline: "2s", listen: "0.0.0.0:9000", roundInterval: "500ms", logLevel: "warn"}),
  "/string.json": JSON.stringify({upstreams: A}),
  "/url.json": JSON.stringify({upstreams: [A], url: "https://x.example"}),
};
const read = async (p: string): Promise<string> => {
  const f = files[p];
  if (f === undefined) throw new Error(`ENOENT ${p}`);
  return f;
};

async function errorOf(args: string[], env: Record<string, string> = {}): Promise<{code: string; message: string}> {
  try {
    await resolveAggregatorOptions(args, env, read);
  } catch (e) {
    if (e instanceof OptionsError) return {code: e.code, message: e.message};
    throw e;
  }
  return {code: "none", message: "no error"};
}

// ---
const Resolve = suite("node/aggregator-options resolveAggregatorOptions");

Resolve("should default to one required upstream, a 3 s deadline and its own port :: --upstream alone", withTimeout(5_000, async () => {
  const o = await resolveAggregatorOptions(["--upstream", A], {}, read);
  const d = defaultAggregatorNodeOptions();
  assert.equal(o.upstream, {...d.upstream, upstreams: [A]});
  assert.is(o.upstream.minUpstreams, 1);
  assert.is(o.upstream.deadlineMs, 3_000);
  assert.is(o.http.listen, "127.0.0.1:14789");
  assert.equal(o.aggregator, d.aggregator);
}));

Resolve("should take repeated flags in order, a comma list from the environment, a JSON array from the file, each replacing the one before :: layering", withTimeout(5_000, async () => {
  assert.equal((await resolveAggregatorOptions(["--upstream", A, "--upstream=" + B, "--upstream", C], {}, read)).upstream.upstreams, [A, B, C]);
  assert.equal((await resolveAggregatorOptions([], {OTSFED_UPSTREAMS: `${A}, ${B}`}, read)).upstream.upstreams, [A, B]);
  const f = await resolveAggregatorOptions(["--config", "/agg.json"], {}, read);
  assert.equal(f.upstream, {upstreams: [A, B], minUpstreams: 2, deadlineMs: 2_000, maxAttempts: 3});
  assert.is(f.http.listen, "0.0.0.0:9000");
  assert.is(f.aggregator.roundIntervalMs, 500);
  assert.is(f.logLevel, "warn");
  // Arrays replace: the environment's list over the file's, the flags' over both.
  const e = await resolveAggregatorOptions(["--config", "/agg.json"], {OTSFED_UPSTREAMS: `${C},${A}`}, read);
  assert.equal(e.upstream.upstreams, [C, A]);
  const g = await resolveAggregatorOptions(["--config", "/agg.json", "--upstream", C, "--upstream", B], {OTSFED_UPSTREAMS: A}, read);
  assert.equal(g.upstream.upstreams, [C, B]);
  assert.equal((await resolveAggregatorOptions(["--config", "/string.json"], {}, read)).upstream.upstreams, [A]);
}));

Resolve("should refuse what cannot work with the source named :: missing, too many required, bad URLs, duplicates, ranges, the calendar's own flags", withTimeout(5_000, async () => {
  const cases: Array<{args: string[]; env?: Record<string, string>; code: string; has: string}> = [
    {args: [], code: "OPTIONS_REQUIRED", has: "no upstream calendar"},
    {args: ["--upstream", A, "--min-upstreams", "2"], code: "OPTIONS_CONFLICT", has: "--min-upstreams 2 is more than the 1 upstream calendar given"},
    {args: ["--upstream", A, "--min-upstreams", "0"], code: "OPTIONS_BAD_VALUE", has: "flag --min-upstreams: must be an integer from 1 to 16"},
    {args: ["--upstream", "ftp://a.example"], code: "OPTIONS_BAD_VALUE", has: "must be an http:// or https:// URL"},
    {args: ["--upstream", "a.example"], code: "OPTIONS_BAD_VALUE", has: "is not a URL"},
    {args: ["--upstream", "https://u:p@a.example"], code: "OPTIONS_BAD_VALUE", has: "no user or password"},
    {args: ["--upstream", "https://a.example/?x=1"], code: "OPTIONS_BAD_VALUE", has: "no query or fragment"},
    {args: ["--upstream", A, "--upstream", `${A}/`], code: "OPTIONS_BAD_VALUE", has: "is given twice"},
    {args: Array.from({length: 17}, (_, i) => ["--upstream", `https://c${i}.example`]).flat(), code: "OPTIONS_BAD_VALUE", has: "at most 16 upstream calendars"},
    {args: ["--upstream", A, "--upstream-deadline", "50ms"], code: "OPTIONS_BAD_VALUE", has: "from 100 ms to 1 min"},
    {args: ["--upstream", A, "--upstream-attempts", "11"], code: "OPTIONS_BAD_VALUE", has: "from 1 to 10"},
    {args: ["--upstream", A, "--url", "https://x.example"], code: "OPTIONS_UNKNOWN", has: "unknown flag '--url'"},
    {args: ["--upstream", A, "--data-dir", "/d"], code: "OPTIONS_UNKNOWN", has: "unknown flag '--data-dir'"},
    {args: ["--config", "/url.json"], code: "OPTIONS_UNKNOWN", has: "config file /url.json: unknown key 'url'"},
    {args: [], env: {OTSFED_UPSTREAMS: "https://a.example,ftp://b"}, code: "OPTIONS_BAD_VALUE", has: "environment OTSFED_UPSTREAMS:"},
  ];
  for (const c of cases) {
    const e = await errorOf(c.args, c.env);
    assert.is(e.code, c.code, `${c.args.join(" ")}: ${e.message}`);
    assert.ok(e.message.includes(c.has), `${c.args.join(" ")}: ${e.message}`);
  }
}));

Resolve("should accept the example config, which shows every setting at its default :: bootstrap/aggregator.example.json", withTimeout(5_000, async () => {
  const example = fileURLToPath(new URL("../../bootstrap/aggregator.example.json", import.meta.url));
  const o = await resolveAggregatorOptions(["--config", example], {}, (p) => readFile(p, "utf8"));
  const d = defaultAggregatorNodeOptions();
  assert.equal({...o, upstream: {...o.upstream, upstreams: []}}, d);
  assert.is(o.upstream.upstreams.length, 2);
  const keys = Object.keys(JSON.parse(await readFile(example, "utf8")) as object).sort();
  assert.equal(keys, AGGREGATOR_OPTION_SPECS.map((s) => s.key).sort(), "every setting in the example");
}));

Resolve.run();

// ---
const Help = suite("node/aggregator-options aggregatorOptionsHelp");

Help("should list every setting with its range within 80 columns, --upstream as repeatable :: no --url, no --data-dir", () => {
  const help = aggregatorOptionsHelp();
  for (const line of help.split("\n")) assert.ok(line.length <= 80, `${line.length} columns: ${line}`);
  const entries = help.split(/\n(?= {2}--)/).slice(1);
  assert.is(entries.length, AGGREGATOR_OPTION_SPECS.length + 1, "every setting and --config");
  for (const spec of AGGREGATOR_OPTION_SPECS) assert.ok(entries.some((x) => x.startsWith(`  ${spec.flag}${spec.repeatable ? " (repeatable)" : ""}\n`) && x.includes(spec.env)), spec.flag);
  assert.match(help, "  --upstream (repeatable)\n");
  assert.not.match(help, "--url");
  assert.not.match(help, "--data-dir");
  assert.match(help.replace(/\s+/g, " "), "default 127.0.0.1:14789");
  assert.match(help.replace(/\s+/g, " "), "(default 3s); from 100 ms to 1 min");
});

Help.run();
