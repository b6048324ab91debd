import {readFile} from "node:fs/promises";
import {fileURLToPath} from "node:url";
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {OptionsError} from "../../node/config/option-spec.ts";
import {parseDuration} from "../../node/config/values.ts";
import {defaultNodeOptions, OPTION_SPECS, optionsHelp, resolveNodeOptions} from "../../node/options.ts";
import type {NodeOptions} from "../../node/options.ts";
import {defaultStamperOptions} from "../../node/stamper/options.ts";
import {withTimeout} from "../support/timeout.ts";

const files: Record<string, string> = {
  "/cfg.json": JSON.stringify({dataDir: "/from-file", listen: "127.0.0.1:1000", maxQueue: 10, roundInterval: "2s", logLevel: "debug"}),
  "/bad-key.json": JSON.stringify({dataDir: "/x", maxqueue: 1}),
  "/array.json": "[]",
  "/broken.json": "{",
  "/stamper.json": JSON.stringify({dataDir: "/d", stampInterval: "10m", confirmations: 3, maxFee: 50_000, fallbackFeerate: 1.5, bitcoinPollInterval: 750}),
};
const read = async (p: string): Promise<string> => {
  const f = files[p];
  if (f === undefined) throw new Error(`ENOENT ${p}`);
  return f;
};

async function errorOf(args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    await resolveNodeOptions(args, env, read);
  } catch (e) {
    if (e instanceof OptionsError) return e.message;
    throw e;
  }
  return "no error";
}

// ---
const Resolve = suite("node/options resolveNodeOptions");

Resolve("should layer defaults < file < env < flags :: each source wins over the one before", withTimeout(5_000, async () => {
  const o = await resolveNodeOptions(["--config", "/cfg.json", "--max-queue", "30"], {OTSFED_MAX_QUEUE: "20", OTSFED_LISTEN: "127.0.0.1:2000", OTSFED_TEST_JOBS: "2"}, read);
  assert.is(o.dataDir, "/from-file");
  assert.is(o.http.listen, "127.0.0.1:2000", "env over file");
  assert.is(o.aggregator.maxQueue, 30, "flag over env over file");
  assert.is(o.aggregator.roundIntervalMs, 2000, "file over default");
  assert.is(o.logLevel, "debug");
  assert.is(o.journal.segmentBytes, 16 * 1024 * 1024, "default");
  const viaEnv = await resolveNodeOptions(["--data-dir=/d"], {OTSFED_CONFIG: "/cfg.json"}, read);
  assert.is(viaEnv.dataDir, "/d");
  assert.is(viaEnv.aggregator.maxQueue, 10);
}));

Resolve("should refuse bad input naming its source :: unknown keys, flags, values", withTimeout(5_000, async () => {
  assert.match(await errorOf(["--config", "/bad-key.json"]), "config file /bad-key.json: unknown key 'maxqueue'");
  assert.match(await errorOf(["--config", "/array.json"]), "must hold a JSON object");
  assert.match(await errorOf(["--config", "/broken.json"]), "config file /broken.json:");
  assert.match(await errorOf(["--config", "/missing.json"]), "config file /missing.json:");
  assert.match(await errorOf(["--data-dir", "/d", "--bogus", "1"]), "unknown flag '--bogus'");
  assert.match(await errorOf(["--data-dir", "/d", "stray"]), "unknown argument 'stray'");
  assert.match(await errorOf(["--data-dir"]), "flag --data-dir needs a value");
  assert.match(await errorOf([]), "no data directory");
  assert.match(await errorOf(["--data-dir", "/d"], {OTSFED_LOG_LEVEL: "loud"}), "environment OTSFED_LOG_LEVEL: must be one of");
  assert.match(await errorOf(["--data-dir", "/d", "--listen", "nohost"]), "flag --listen: must be host:port");
  assert.match(await errorOf(["--data-dir", "/d", "--url", "http://a.example/cal/"]), "flag --url: must be a bare origin");
  assert.match(await errorOf(["--data-dir", "/d", "--url", "http://a.example/"]), "flag --url: must be a bare origin");
  assert.match(await errorOf(["--data-dir", "/d", "--segment-bytes", "12"]), "flag --segment-bytes: must be an integer from 4096");
}));

Resolve("should cap HTTP connections at 1024 unless told otherwise :: default, flag, env, out of range", withTimeout(5_000, async () => {
  assert.is((await resolveNodeOptions(["--data-dir", "/d"], {}, read)).http.maxConnections, 1024);
  assert.is((await resolveNodeOptions(["--data-dir", "/d", "--max-connections", "64"], {}, read)).http.maxConnections, 64);
  assert.is((await resolveNodeOptions(["--data-dir", "/d"], {OTSFED_MAX_CONNECTIONS: "5000"}, read)).http.maxConnections, 5000);
  assert.match(await errorOf(["--data-dir", "/d", "--max-connections", "0"]), "flag --max-connections: must be an integer from 1 to 100000");
}));
Resolve.run();

// ---
const RoundInterval = suite("node/options round interval");
RoundInterval("should read ms, s, m and h from 0 to 1 h :: 0, 250, 250ms, 2s, 10m, 1h, refusals", withTimeout(5_000, async () => {
  const interval = async (v: string): Promise<number> => (await resolveNodeOptions(["--data-dir", "/d", "--round-interval", v], {}, read)).aggregator.roundIntervalMs;
  assert.is(await interval("0"), 0);
  assert.is(await interval("250"), 250);
  assert.is(await interval("250ms"), 250);
  assert.is(await interval("2s"), 2000);
  assert.is(await interval("10m"), 600_000);
  assert.is(await interval("1h"), 3_600_000);
  for (const bad of ["-1", "", "1.5s", "61m", "2h", "3600001"]) assert.match(await errorOf(["--data-dir", "/d", "--round-interval", bad]), "flag --round-interval: must be a duration like 500ms, 30s, 10m, 1h or a number of ms, from 0 ms to 1 h", bad);
  assert.match(await refusal(["--config", "/x.json"], {}, withConfig({dataDir: "/d", roundInterval: 7_200_000})), "config file /x.json: key 'roundInterval': must be a duration", "JSON number beyond an hour");
}));
RoundInterval.run();

// ---
/** One stamper setting: its three names, a good value as a string and as JSON, and where it lands. */
type StamperCase = {
  key: string;
  env: string;
  flag: string;
  text: string;
  json: unknown;
  read: (o: NodeOptions) => unknown;
  expected: unknown;
  /** Values refused from every source. */
  bad: readonly string[];
  /** Words the refusal message must contain. */
  says: string;
};

const STAMPER_CASES: readonly StamperCase[] = [
  {key: "stampInterval", env: "OTSFED_STAMP_INTERVAL", flag: "--stamp-interval", text: "10m", json: 600_000, read: (o) => o.stamper.intervalMs, expected: 600_000, bad: ["999ms", "8d", "169h", "1.5h", "soon", "0"], says: "from 1 s to 7 days"},
  {key: "confirmations", env: "OTSFED_CONFIRMATIONS", flag: "--confirmations", text: "3", json: 3, read: (o) => o.stamper.confirmations, expected: 3, bad: ["0", "101", "2.5", "six"], says: "integer from 1 to 100"},
  {key: "feeTarget", env: "OTSFED_FEE_TARGET", flag: "--fee-target", text: "144", json: 144, read: (o) => o.stamper.confTarget, expected: 144, bad: ["0", "1009", "-1"], says: "integer from 1 to 1008"},
  {key: "fallbackFeerate", env: "OTSFED_FALLBACK_FEERATE", flag: "--fallback-feerate", text: "1.5", json: 1.5, read: (o) => o.stamper.fallbackFeeRate, expected: 1.5, bad: ["0.05", "10001", "1,5", ".5", "1e3"], says: "number from 0.1 to 10000"},
  {key: "maxFeerate", env: "OTSFED_MAX_FEERATE", flag: "--max-feerate", text: "50.5", json: 50.5, read: (o) => o.stamper.fee.maxFeeRate, expected: 50.5, bad: ["0.5", "10000.1", "lots"], says: "number from 1 to 10000"},
  {key: "maxFee", env: "OTSFED_MAX_FEE", flag: "--max-fee", text: "250000", json: 250_000, read: (o) => o.stamper.fee.maxFeeSats, expected: 250_000n, bad: ["999", "100000001", "1000.5"], says: "integer from 1000 to 100000000"},
  {key: "feeDeadline", env: "OTSFED_FEE_DEADLINE", flag: "--fee-deadline", text: "12", json: 12, read: (o) => o.stamper.fee.deadlineBlocks, expected: 12, bad: ["0", "2017"], says: "integer from 1 to 2016"},
  {key: "incrementalRelayFeerate", env: "OTSFED_INCREMENTAL_RELAY_FEERATE", flag: "--incremental-relay-feerate", text: "0.1", json: 0.1, read: (o) => o.stamper.fee.incrementalRelayFeeRate, expected: 0.1, bad: ["0.01", "101", "0"], says: "number from 0.1 to 100"},
  {key: "bitcoinPollInterval", env: "OTSFED_BITCOIN_POLL_INTERVAL", flag: "--bitcoin-poll-interval", text: "750ms", json: 750, read: (o) => o.stamper.pollIntervalMs, expected: 750, bad: ["99", "99ms", "11m", "1h"], says: "from 100 ms to 10 min"},
];

function withConfig(json: Record<string, unknown>): (p: string) => Promise<string> {
  return async (p) => {
    if (p !== "/x.json") throw new Error(`ENOENT ${p}`);
    return JSON.stringify(json);
  };
}

async function refusal(args: string[], env: Record<string, string>, readText: (p: string) => Promise<string> = read): Promise<string> {
  try {
    await resolveNodeOptions(args, env, readText);
  } catch (e) {
    if (e instanceof OptionsError) return e.message;
    throw e;
  }
  return "no error";
}

const Stamper = suite("node/options stamper settings");

Stamper("should default to the stamper's own defaults :: a copy, not the shared object", withTimeout(5_000, async () => {
  const o = await resolveNodeOptions(["--data-dir", "/d"], {}, read);
  assert.equal(o.stamper, defaultStamperOptions);
  const a = defaultNodeOptions();
  a.stamper.fee.maxFeeSats = 1n;
  a.stamper.confirmations = 99;
  assert.is(defaultStamperOptions.fee.maxFeeSats, 100_000n, "changing one node's options leaves the defaults alone");
  assert.is(defaultNodeOptions().stamper.confirmations, defaultStamperOptions.confirmations);
}));

Stamper("should read every setting from each source :: config key, OTSFED_* variable, --flag and --flag=value", withTimeout(5_000, async () => {
  for (const c of STAMPER_CASES) {
    const fromFileJson = await resolveNodeOptions(["--config", "/x.json"], {}, withConfig({dataDir: "/d", [c.key]: c.json}));
    assert.equal(c.read(fromFileJson), c.expected, `${c.key} as JSON ${JSON.stringify(c.json)}`);
    const fromFileText = await resolveNodeOptions(["--config", "/x.json"], {}, withConfig({dataDir: "/d", [c.key]: c.text}));
    assert.equal(c.read(fromFileText), c.expected, `${c.key} as the string "${c.text}"`);
    assert.equal(c.read(await resolveNodeOptions(["--data-dir", "/d"], {[c.env]: c.text}, read)), c.expected, c.env);
    assert.equal(c.read(await resolveNodeOptions(["--data-dir", "/d", c.flag, c.text], {}, read)), c.expected, c.flag);
    assert.equal(c.read(await resolveNodeOptions(["--data-dir", "/d", `${c.flag}=${c.text}`], {}, read)), c.expected, `${c.flag}=`);
  }
}));

Stamper("should layer stamper settings like the others :: default < file < env < flag, settings independent", withTimeout(5_000, async () => {
  const o = await resolveNodeOptions(["--config", "/stamper.json", "--confirmations", "5"], {OTSFED_CONFIRMATIONS: "4", OTSFED_STAMP_INTERVAL: "30s"}, read);
  assert.is(o.stamper.confirmations, 5, "flag over env over file");
  assert.is(o.stamper.intervalMs, 30_000, "env over file");
  assert.is(o.stamper.fee.maxFeeSats, 50_000n, "file over default");
  assert.is(o.stamper.fallbackFeeRate, 1.5);
  assert.is(o.stamper.pollIntervalMs, 750);
  assert.is(o.stamper.confTarget, defaultStamperOptions.confTarget, "untouched settings keep their defaults");
  assert.is(o.stamper.fee.maxFeeRate, defaultStamperOptions.fee.maxFeeRate);
  assert.is(o.stamper.fee.deadlineBlocks, defaultStamperOptions.fee.deadlineBlocks);
  assert.is(o.stamper.fee.incrementalRelayFeeRate, defaultStamperOptions.fee.incrementalRelayFeeRate);
}));

Stamper("should refuse out-of-range and malformed values from every source :: the message names the source and the setting", withTimeout(10_000, async () => {
  for (const c of STAMPER_CASES) {
    for (const bad of c.bad) {
      const fromFlag = await refusal(["--data-dir", "/d", c.flag, bad], {});
      assert.match(fromFlag, `flag ${c.flag}: `, `${c.flag} ${bad}`);
      assert.match(fromFlag, c.says, `${c.flag} ${bad}`);
      const fromEnv = await refusal(["--data-dir", "/d"], {[c.env]: bad});
      assert.match(fromEnv, `environment ${c.env}: `, `${c.env}=${bad}`);
      assert.match(fromEnv, c.says);
      const fromFile = await refusal(["--config", "/x.json"], {}, withConfig({dataDir: "/d", [c.key]: bad}));
      assert.match(fromFile, `config file /x.json: key '${c.key}': `, `${c.key}: "${bad}"`);
      assert.match(fromFile, c.says);
    }
    // JSON values that are not numbers or strings are refused too.
    for (const wrong of [true, null, [], {}, -1]) {
      assert.match(await refusal(["--config", "/x.json"], {}, withConfig({dataDir: "/d", [c.key]: wrong})), `config file /x.json: key '${c.key}': `, `${c.key}: ${JSON.stringify(wrong)}`);
    }
  }
}));

Stamper("should accept the example config, which shows the stamper's defaults :: bootstrap/calendar.example.json", withTimeout(5_000, async () => {
  const example = fileURLToPath(new URL("../../bootstrap/calendar.example.json", import.meta.url));
  const o = await resolveNodeOptions(["--config", example], {}, (p) => readFile(p, "utf8"));
  assert.equal(o.stamper, defaultStamperOptions);
  const keys = Object.keys(JSON.parse(await readFile(example, "utf8")) as object);
  for (const c of STAMPER_CASES) assert.ok(keys.includes(c.key), c.key);
}));

Stamper("should list every setting in the help with its range, within 80 columns :: flag, variable and key together, ranges as the validators give them", () => {
  const help = optionsHelp();
  for (const line of help.split("\n")) assert.ok(line.length <= 80, `${line.length} columns: ${line}`);
  // One entry per setting: its flag on a line of its own, then what it is.
  const entries = help.split(/\n(?= {2}--)/).slice(1);
  assert.is(entries.length, OPTION_SPECS.length + 1, "every setting and --config");
  for (const spec of OPTION_SPECS) {
    const e = entries.find((x) => x.startsWith(`  ${spec.flag}\n`));
    assert.ok(e !== undefined, spec.flag);
    assert.ok(e.includes(spec.env) && e.replace(/\s+/g, " ").includes(`config key ${spec.key}`), spec.flag);
  }
  for (const c of STAMPER_CASES) assert.ok(OPTION_SPECS.some((s) => s.key === c.key && s.env === c.env && s.flag === c.flag), c.key);
  // The README's ranges, read from each row's own validator.
  const flat = help.replace(/\s+/g, " ");
  for (const [flag, range] of [
    ["--confirmations", "from 1 to 100"],
    ["--fee-target", "from 1 to 1008"],
    ["--fallback-feerate", "from 0.1 to 10000"],
    ["--max-feerate", "from 1 to 10000"],
    ["--max-fee", "from 1000 to 100000000"],
    ["--fee-deadline", "from 1 to 2016"],
    ["--incremental-relay-feerate", "from 0.1 to 100"],
    ["--stamp-interval", "from 1 s to 7 days"],
    ["--bitcoin-poll-interval", "from 100 ms to 10 min"],
    ["--max-queue", "from 1 to 10000000"],
    ["--max-connections", "from 1 to 100000"],
  ] as const) {
    const at = flat.indexOf(` ${flag} `);
    const next = flat.indexOf(" --", at + flag.length + 2);
    assert.ok(flat.slice(at, next < 0 ? undefined : next).includes(range), `${flag}: ${range}`);
  }
});

Stamper.run();

// ---
const DurationRange = suite("node/config/values parseDuration");
DurationRange("should read ms, s, m and h within the given range :: refusals name the range", () => {
  const week = 7 * 86_400_000;
  assert.is(parseDuration("500ms", 100, week), 500);
  assert.is(parseDuration("30s", 100, week), 30_000);
  assert.is(parseDuration("10m", 100, week), 600_000);
  assert.is(parseDuration("1h", 100, week), 3_600_000);
  assert.is(parseDuration("168h", 100, week), week);
  assert.is(parseDuration("1500", 100, week), 1500);
  assert.is(parseDuration(1500, 100, week), 1500);
  for (const bad of ["99", "1.5s", "-1s", "", "1d", "10 m", "169h", 1.5, week + 1]) assert.throws(() => parseDuration(bad, 100, week), /from 100 ms to 7 days/, String(bad));
  assert.throws(() => parseDuration("0", 1000, 60_000), /from 1 s to 1 min/);
  assert.throws(() => parseDuration("2h", 0, 3_600_000), /from 0 ms to 1 h/);
});
DurationRange.run();
