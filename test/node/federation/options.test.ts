import {suite} from "uvu";
import * as assert from "uvu/assert";
import {OptionsError, OptionsErrorCode} from "../../../node/config/option-spec.ts";
import {defaultFederationOptions} from "../../../node/federation/options.ts";
import {OPTION_SPECS, optionsHelp, resolveNodeOptions} from "../../../node/options.ts";
import {withTimeout} from "../../support/timeout.ts";

const noFile = async (p: string): Promise<string> => {
  throw new Error(`ENOENT ${p}`);
};

function withConfig(json: Record<string, unknown>): (p: string) => Promise<string> {
  return async (p) => {
    if (p !== "/x.json") throw new Error(`ENOENT ${p}`);
    return JSON.stringify(json);
  };
}

async function refusal(args: string[], env: Record<string, string> = {}, readText: (p: string) => Promise<string> = noFile): Promise<{code: string; message: string}> {
  try {
    await resolveNodeOptions(args, env, readText);
  } catch (e) {
    if (e instanceof OptionsError) return {code: e.code, message: e.message};
    throw e;
  }
  return {code: "accepted", message: ""};
}

// ---

const Defaults = suite("node/federation/options defaults");

Defaults("should run alone by default :: no file, loopback listen, not a mirror; a copy per node", withTimeout(5_000, async () => {
  const o = await resolveNodeOptions(["--data-dir", "/d"], {}, noFile);
  assert.equal(o.federation, {file: "", p2pListen: ["/ip4/127.0.0.1/tcp/0"], mirrorOnly: false});
  o.federation.p2pListen.push("/ip4/127.0.0.1/tcp/1");
  assert.equal(defaultFederationOptions.p2pListen, ["/ip4/127.0.0.1/tcp/0"], "changing one node's options leaves the defaults alone");
}));

Defaults.run();

// ---

const Sources = suite("node/federation/options sources");

Sources("should read --federation, --p2p-listen and --mirror-only from flags, environment and config file :: each source", withTimeout(5_000, async () => {
  const fromFlags = await resolveNodeOptions(["--data-dir", "/d", "--federation", "/fed.json", "--p2p-listen", "/ip4/0.0.0.0/tcp/4001,/ip6/::/tcp/4002/ws", "--mirror-only", "true"], {}, noFile);
  assert.equal(fromFlags.federation, {file: "/fed.json", p2pListen: ["/ip4/0.0.0.0/tcp/4001", "/ip6/::/tcp/4002/ws"], mirrorOnly: true});
  const fromEnv = await resolveNodeOptions(["--data-dir", "/d"], {OTSFED_FEDERATION: "/e.json", OTSFED_P2P_LISTEN: "/ip4/0.0.0.0/tcp/4001, /ip4/0.0.0.0/tcp/4002/ws", OTSFED_MIRROR_ONLY: "false"}, noFile);
  assert.equal(fromEnv.federation, {file: "/e.json", p2pListen: ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/tcp/4002/ws"], mirrorOnly: false});
  const fromFile = await resolveNodeOptions(["--config", "/x.json"], {}, withConfig({dataDir: "/d", federation: "/c.json", p2pListen: ["/ip4/10.0.0.1/tcp/4001"], mirrorOnly: true}));
  assert.equal(fromFile.federation, {file: "/c.json", p2pListen: ["/ip4/10.0.0.1/tcp/4001"], mirrorOnly: true});
  const fileAsText = await resolveNodeOptions(["--config", "/x.json"], {}, withConfig({dataDir: "/d", federation: "/c.json", p2pListen: "/ip4/10.0.0.1/tcp/1,/ip4/10.0.0.1/tcp/2", mirrorOnly: "true"}));
  assert.equal(fileAsText.federation.p2pListen, ["/ip4/10.0.0.1/tcp/1", "/ip4/10.0.0.1/tcp/2"]);
  assert.is(fileAsText.federation.mirrorOnly, true);
  // Flags over environment over file; a list replaces, it does not add.
  const layered = await resolveNodeOptions(["--config", "/x.json", "--p2p-listen", "/ip4/127.0.0.1/tcp/9"], {OTSFED_FEDERATION: "/env.json"}, withConfig({dataDir: "/d", federation: "/c.json", p2pListen: ["/ip4/10.0.0.1/tcp/1", "/ip4/10.0.0.1/tcp/2"]}));
  assert.is(layered.federation.file, "/env.json");
  assert.equal(layered.federation.p2pListen, ["/ip4/127.0.0.1/tcp/9"]);
}));

Sources("should refuse bad listen addresses naming the source :: not a multiaddr, no port, DNS, /p2p/, QUIC, not canonical, empty, too many, not strings", withTimeout(5_000, async () => {
  const must = /must be a multiaddr of an IP and TCP port, optionally \/ws/;
  for (const [bad, says] of [
    ["0.0.0.0:4001", must],
    ["/ip4/0.0.0.0", must],
    ["/dns4/a.example.net/tcp/4001", must],
    ["/ip4/0.0.0.0/tcp/4001/p2p/12D3KooWFaa2qEGxfCNfKSRfkQmYEc392EbzujCaeJYRmYCTugzv", must],
    ["/ip4/0.0.0.0/udp/4001/quic-v1", must],
    ["/ip4/0.0.0.0/tcp/4001/wss", must],
    ["/ip4/300.0.0.0/tcp/4001", must],
    ["/ip4/0.0.0.0/tcp/4001/", /'\/ip4\/0\.0\.0\.0\/tcp\/4001\/': write it as \/ip4\/0\.0\.0\.0\/tcp\/4001$/],
    ["", /must be a list of 1 to 16 multiaddrs/],
    ["/ip4/0.0.0.0/tcp/1,,/ip4/0.0.0.0/tcp/2", /must be a list of 1 to 16 multiaddrs/],
    [Array.from({length: 17}, (_, i) => `/ip4/0.0.0.0/tcp/${4000 + i}`).join(","), /must be a list of 1 to 16 multiaddrs/],
  ] as const) {
    const flag = await refusal(["--data-dir", "/d", "--p2p-listen", bad]);
    assert.is(flag.code, OptionsErrorCode.BAD_VALUE, bad);
    assert.match(flag.message, /^flag --p2p-listen: /, bad);
    assert.match(flag.message, says, `${bad}: ${flag.message}`);
    assert.match((await refusal(["--data-dir", "/d"], {OTSFED_P2P_LISTEN: bad})).message, /^environment OTSFED_P2P_LISTEN: /, bad);
  }
  for (const bad of [[], [4001], "x", null, {}]) {
    const r = await refusal(["--config", "/x.json"], {}, withConfig({dataDir: "/d", p2pListen: bad}));
    assert.match(r.message, /^config file \/x\.json: key 'p2pListen': /, JSON.stringify(bad));
  }
}));

Sources("should read --mirror-only as true or false only :: refusals", withTimeout(5_000, async () => {
  for (const bad of ["yes", "1", "", "TRUE"]) {
    const r = await refusal(["--data-dir", "/d", "--federation", "/f.json", "--mirror-only", bad]);
    assert.is(r.message, "flag --mirror-only: must be true or false", bad);
  }
  const r = await refusal(["--config", "/x.json"], {}, withConfig({dataDir: "/d", federation: "/f.json", mirrorOnly: 1}));
  assert.is(r.message, "config file /x.json: key 'mirrorOnly': must be true or false");
  assert.is((await refusal(["--data-dir", "/d", "--federation", ""])).message, "flag --federation: must be a non-empty string");
}));

Sources("should refuse a mirror of no federation :: --mirror-only without --federation, from any source", withTimeout(5_000, async () => {
  for (const r of [await refusal(["--data-dir", "/d", "--mirror-only", "true"]), await refusal(["--data-dir", "/d"], {OTSFED_MIRROR_ONLY: "true"})]) {
    assert.is(r.code, OptionsErrorCode.CONFLICT);
    assert.is(r.message, "--mirror-only needs --federation FILE: a mirror follows the calendars a federation definition names");
  }
  assert.is((await resolveNodeOptions(["--data-dir", "/d", "--mirror-only", "false"], {}, noFile)).federation.mirrorOnly, false);
}));

Sources("should list the federation settings in --help-options :: flag, variable and key", () => {
  const help = optionsHelp().replace(/\s+/g, " ");
  for (const [flag, env, key] of [
    ["--federation", "OTSFED_FEDERATION", "federation"],
    ["--p2p-listen", "OTSFED_P2P_LISTEN", "p2pListen"],
    ["--mirror-only", "OTSFED_MIRROR_ONLY", "mirrorOnly"],
  ] as const) {
    assert.ok(OPTION_SPECS.some((s) => s.flag === flag && s.env === env && s.key === key), flag);
    assert.ok(help.includes(` ${flag} environment ${env}, config key ${key} `), flag);
  }
});

Sources.run();
