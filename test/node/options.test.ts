import {suite} from "uvu";
import * as assert from "uvu/assert";
import {OptionsError, parseDurationMs, resolveNodeOptions} from "../../node/options.ts";
import {withTimeout} from "../support/timeout.ts";

const files: Record<string, string> = {
  "/cfg.json": JSON.stringify({dataDir: "/from-file", listen: "127.0.0.1:1000", maxQueue: 10, roundInterval: "2s", logLevel: "debug"}),
  "/bad-key.json": JSON.stringify({dataDir: "/x", maxqueue: 1}),
  "/array.json": "[]",
  "/broken.json": "{",
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
Resolve.run();

// ---
const Duration = suite("node/options parseDurationMs");
Duration("should read ms and s forms :: 0, 250, 250ms, 2s, refusals", () => {
  assert.is(parseDurationMs(0), 0);
  assert.is(parseDurationMs("250"), 250);
  assert.is(parseDurationMs("250ms"), 250);
  assert.is(parseDurationMs("2s"), 2000);
  for (const bad of ["-1", "1h", "", "1.5s", 7_200_000]) assert.throws(() => parseDurationMs(bad), String(bad));
});
Duration.run();
