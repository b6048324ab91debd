import {suite} from "uvu";
import * as assert from "uvu/assert";
import {spawn} from "node:child_process";
import {chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {main} from "../../../node/cli/main.ts";
import {encodeFederationDefinition, parseFederationDefinition} from "../../../node/federation/definition.ts";
import {calendarIdFromString, loadIdentity} from "../../../node/identity.ts";
import {calendarTag} from "../../../protocol/journal/commitment.ts";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {withTimeout} from "../../support/timeout.ts";

const CLI = fileURLToPath(new URL("../../../node/cli/otsfed.ts", import.meta.url));

type Run = {code: number; stdout: string; stderr: string};

/** `otsfed ARGV` in this process (main.ts, as the binary runs it). */
async function otsfed(...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {stdout: (l) => out.push(`${l}\n`), stderr: (l) => err.push(`${l}\n`)});
  return {code, stdout: out.join(""), stderr: err.join("")};
}

/** A refusal: exit `code`, nothing on stdout, exactly one line on stderr (returned, without its newline). */
function refused(r: Run, code: number, what: string): string {
  assert.is(r.code, code, `${what}: exit code (${r.stderr.trim()})`);
  assert.is(r.stdout, "", `${what}: nothing on stdout`);
  assert.is(r.stderr.split("\n").length, 2, `${what}: one line: ${r.stderr}`);
  return r.stderr.trimEnd();
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "otsfed-cli-fed-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}

const tagOf = (peerId: string): string => toHex(calendarTag(calendarIdFromString(peerId) as Uint8Array));

// ---

const Identity = suite("node/cli otsfed identity");

Identity("should create the identity once and print the same peer id and tag after :: text, then --json", withTimeout(20_000, () => withDir(async (dir) => {
  const data = join(dir, "a", "data");
  const first = await otsfed("identity", "--data-dir", data);
  assert.is(first.code, 0, first.stderr);
  const identity = await loadIdentity(data);
  assert.ok(identity !== null, "identity.key was created");
  const tag = toHex(calendarTag(identity.calendarId));
  assert.is(first.stdout, `peer id       ${identity.peerId}\ncalendar tag  ${tag}\nidentity      ${join(data, "identity.key")} (created now)\n`);
  const again = await otsfed("identity", "--data-dir", data, "--json");
  assert.is(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout), {peerId: identity.peerId, calendarTag: tag, identityFile: join(data, "identity.key"), created: false});
})));

Identity("should refuse usage errors and a key others may read, on one line :: no --data-dir, a stray argument, an unknown flag, mode 0644", withTimeout(20_000, () => withDir(async (dir) => {
  assert.is(refused(await otsfed("identity"), 2, "no dir"), "otsfed identity: --data-dir DIR is required");
  assert.is(refused(await otsfed("identity", "--data-dir", dir, "x"), 2, "stray"), "otsfed identity: unexpected argument 'x'");
  assert.is(refused(await otsfed("identity", "--data-dir", dir, "--force"), 2, "flag"), "otsfed identity: unknown option --force");
  assert.is((await otsfed("identity", "--data-dir", dir)).code, 0);
  await chmod(join(dir, "identity.key"), 0o644);
  assert.match(refused(await otsfed("identity", "--data-dir", dir), 1, "insecure"), /^otsfed identity: IDENTITY_INSECURE: .*identity\.key is readable by others/);
})));

Identity.run();

// ---

const Session = suite("node/cli otsfed federation session");

Session("should build a definition of three operators' nodes :: identity, init, add-member x3, show, show --json, and a node that joins it", withTimeout(60_000, (signal) => withDir(async (dir) => {
  const file = join(dir, "fed.json");
  const ids: string[] = [];
  for (const op of ["a", "b", "c"]) {
    const r = await otsfed("identity", "--data-dir", join(dir, op), "--json");
    assert.is(r.code, 0, r.stderr);
    ids.push((JSON.parse(r.stdout) as {peerId: string}).peerId);
  }
  const init = await otsfed("federation", "init", "--name", "demo-fed", "--out", file);
  assert.is(init.code, 0, init.stderr);
  assert.match(init.stdout, /^wrote .*fed\.json: federation demo-fed, no members yet\n/);
  assert.is(await readFile(file, "utf8"), encodeFederationDefinition({version: 1, name: "demo-fed", members: []}));
  const empty = await otsfed("federation", "show", file);
  assert.is(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /^federation demo-fed \(definition version 1\), 0 members\n/);

  for (const [i, op] of ["a", "b", "c"].entries()) {
    const r = await otsfed("federation", "add-member", file, "--data-dir", join(dir, op), "--url", `https://${op}.example.net`, "--p2p", `/dns4/${op}.example.net/tcp/4001`, "--p2p", `/ip4/192.0.2.${i + 1}/tcp/4002/ws`);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, `added ${ids[i]} to ${file} as rank ${i} (federation demo-fed, ${i + 1} member${i === 0 ? "" : "s"})\n`);
  }
  const text = await readFile(file, "utf8");
  const def = parseFederationDefinition(text, file);
  assert.is(encodeFederationDefinition(def), text, "written canonically");
  assert.equal(def.members, ["a", "b", "c"].map((op, i) => ({calendarId: ids[i], url: `https://${op}.example.net`, p2p: [`/dns4/${op}.example.net/tcp/4001`, `/ip4/192.0.2.${i + 1}/tcp/4002/ws`], rank: i})));
  assert.ok(!(await readdir(dir)).some((n) => n.endsWith(".tmp")), "no temporary file left");

  const show = await otsfed("federation", "show", file);
  assert.is(show.code, 0, show.stderr);
  const lines = show.stdout.split("\n");
  assert.is(lines[0], "federation demo-fed (definition version 1), 3 members");
  for (const [i, op] of ["a", "b", "c"].entries()) {
    const at = lines.indexOf(`rank ${i}`);
    assert.ok(at > 0, `rank ${i} shown`);
    assert.equal(lines.slice(at + 1, at + 6), [
      `  peer id       ${ids[i]}`,
      `  calendar tag  ${tagOf(ids[i] as string)}`,
      `  url           https://${op}.example.net`,
      `  p2p           /dns4/${op}.example.net/tcp/4001`,
      `                /ip4/192.0.2.${i + 1}/tcp/4002/ws`,
    ]);
  }
  for (const line of lines) assert.ok(line.length <= 80, line);
  const json = await otsfed("federation", "show", file, "--json");
  assert.is(json.code, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout), {name: "demo-fed", version: 1, members: def.members.map((m) => ({rank: m.rank, calendarId: m.calendarId, calendarTag: tagOf(m.calendarId), url: m.url, p2p: m.p2p}))});

  // The real binary joins it: as member b, and as a mirror of it (its own identity named nowhere).
  for (const args of [["node", "--data-dir", join(dir, "b")], ["mirror", "--data-dir", join(dir, "m")]]) {
    const joined = await untilLog([...args, "--federation", file, "--listen", "127.0.0.1:0"], "federation joined", signal);
    assert.is(joined.federation, "demo-fed", args[0]);
    assert.is(joined.member, args[0] === "node", args[0]);
  }
})));

/**
 * Run the binary until it logs `msg` (a JSON line on stdout), stop it with
 * SIGTERM, check it exits 0, and return that line.
 */
function untilLog(args: string[], msg: string, signal: AbortSignal): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {stdio: ["ignore", "pipe", "pipe"], signal, killSignal: "SIGKILL"});
    let out = "";
    let err = "";
    let found: Record<string, unknown> | null = null;
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      if (found !== null) return;
      for (const line of out.split("\n")) {
        if (!line.includes(`"${msg}"`)) continue;
        found = JSON.parse(line) as Record<string, unknown>;
        child.kill("SIGTERM");
        break;
      }
    });
    child.stderr.on("data", (b: Buffer) => void (err += b.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (found !== null && code === 0) resolve(found);
      else reject(new Error(`otsfed ${args.join(" ")}: exit ${code} before/after '${msg}'\n${err}\n${out.slice(-2000)}`));
    });
  });
}

Session.run();

// ---

const Init = suite("node/cli otsfed federation init");

Init("should refuse usage errors and never overwrite a file :: no --name, bad name, no --out, existing FILE, stray argument", withTimeout(20_000, () => withDir(async (dir) => {
  const file = join(dir, "fed.json");
  assert.is(refused(await otsfed("federation", "init", "--out", file), 2, "no name"), "otsfed federation init: --name NAME is required");
  assert.is(refused(await otsfed("federation", "init", "--name", "x"), 2, "no out"), "otsfed federation init: --out FILE is required");
  assert.is(refused(await otsfed("federation", "init", "--name", "Bad Name", "--out", file), 2, "bad name"), "otsfed federation init: --name: must be 1 to 64 characters of a-z, 0-9 and '-' (it goes into topic names and protocol ids)");
  assert.is(refused(await otsfed("federation", "init", "--name", "x", "--out", file, "extra"), 2, "stray"), "otsfed federation init: unexpected argument 'extra'");
  assert.equal(await readdir(dir), [], "nothing written");
  await writeFile(file, "keep me");
  assert.match(refused(await otsfed("federation", "init", "--name", "x", "--out", file), 2, "exists"), /^otsfed federation init: .*fed\.json already exists; init never overwrites a definition/);
  assert.is(await readFile(file, "utf8"), "keep me");
  assert.equal(await readdir(dir), ["fed.json"], "no temporary file left");
  assert.match(refused(await otsfed("federation", "init", "--name", "x", "--out", join(dir, "no", "such", "f.json")), 1, "no dir"), /^otsfed federation init: ENOENT: /);
})));

Init.run();

// ---

const AddMember = suite("node/cli otsfed federation add-member");

AddMember("should refuse bad input on one line and leave the file as it was :: usage, url, p2p, missing or malformed FILE, a node or URL named twice", withTimeout(30_000, () => withDir(async (dir) => {
  const file = join(dir, "fed.json");
  const a = join(dir, "a");
  assert.is((await otsfed("federation", "init", "--name", "x", "--out", file)).code, 0);
  const ok = await otsfed("federation", "add-member", file, "--data-dir", a, "--url", "https://a.example.net", "--p2p", "/ip4/192.0.2.1/tcp/4001");
  assert.is(ok.code, 0, ok.stderr);
  const before = await readFile(file, "utf8");
  const idA = (await loadIdentity(a))?.peerId as string;
  const b = join(dir, "b");
  const base = ["federation", "add-member", file, "--data-dir", b];
  const cases: Array<{args: string[]; code: number; says: string | RegExp}> = [
    {args: ["federation", "add-member", "--data-dir", b, "--url", "https://b.example.net", "--p2p", "/ip4/192.0.2.2/tcp/1"], code: 2, says: "otsfed federation add-member: expected exactly one FILE: the federation definition (see 'otsfed federation init')"},
    {args: ["federation", "add-member", file, "--url", "https://b.example.net", "--p2p", "/ip4/192.0.2.2/tcp/1"], code: 2, says: "otsfed federation add-member: --data-dir DIR is required"},
    {args: [...base, "--p2p", "/ip4/192.0.2.2/tcp/1"], code: 2, says: /^otsfed federation add-member: --url URL is required/},
    {args: [...base, "--url", "https://b.example.net"], code: 2, says: /^otsfed federation add-member: --p2p ADDR is required/},
    {args: [...base, "--url", "https://b.example.net/", "--p2p", "/ip4/192.0.2.2/tcp/1"], code: 2, says: /^otsfed federation add-member: --url: must be a bare origin like https:\/\/calendar\.example\.net/},
    {args: [...base, "--url", "https://b.example.net", "--p2p", "192.0.2.2:4001"], code: 2, says: /^otsfed federation add-member: --p2p: '192\.0\.2\.2:4001' is not a multiaddr/},
    {args: [...base, "--url", "https://b.example.net", "--p2p", "/ip4/192.0.2.2"], code: 2, says: /^otsfed federation add-member: --p2p: '\/ip4\/192\.0\.2\.2' is not an address TCP or WebSockets can dial/},
    {args: [...base, "--url", "https://b.example.net", "--p2p", "/ip4/192.0.2.2/tcp/1", "--p2p", "/ip4/192.0.2.2/tcp/1"], code: 2, says: "otsfed federation add-member: --p2p: '/ip4/192.0.2.2/tcp/1' is given twice"},
    {args: [...base, "--url", "https://b.example.net", "--p2p", `/ip4/192.0.2.2/tcp/1/p2p/${idA}`], code: 2, says: new RegExp(`^otsfed federation add-member: --p2p: '.*' names the peer ${idA}, not this member$`)},
    {args: [...base, "--url", "https://b.example.net", ...Array.from({length: 17}, (_, i) => ["--p2p", `/ip4/192.0.2.2/tcp/${i + 1}`]).flat()], code: 2, says: "otsfed federation add-member: --p2p: 17 addresses; a member has at most 16"},
    {args: ["federation", "add-member", join(dir, "none.json"), "--data-dir", b, "--url", "https://b.example.net", "--p2p", "/ip4/192.0.2.2/tcp/1"], code: 2, says: `otsfed federation add-member: FEDERATION_UNREADABLE: ${join(dir, "none.json")}: cannot read it (ENOENT)`},
    {args: ["federation", "add-member", file, "--data-dir", a, "--url", "https://other.example.net", "--p2p", "/ip4/192.0.2.9/tcp/1"], code: 2, says: `otsfed federation add-member: FEDERATION_ALREADY_MEMBER: ${file}: already names this node (${idA}) as the member of rank 0`},
    {args: [...base, "--url", "https://A.example.net", "--p2p", "/ip4/192.0.2.2/tcp/1"], code: 2, says: `otsfed federation add-member: FEDERATION_ALREADY_MEMBER: ${file}: https://A.example.net is already the URL of the member of rank 0 (${idA}); each calendar has its own`},
  ];
  for (const c of cases) {
    const line = refused(await otsfed(...c.args), c.code, c.args.join(" "));
    if (typeof c.says === "string") assert.is(line, c.says);
    else assert.match(line, c.says);
    assert.is(await readFile(file, "utf8"), before, `${line}: file unchanged`);
  }
  // The refusals of the values themselves came before anything was created for b.
  const made = await readdir(dir);
  assert.ok(made.includes("b"), "b's identity was created for the URL check, the last refusal");
  await rm(b, {recursive: true});
  // A malformed definition is refused as the node would refuse it.
  const broken = join(dir, "broken.json");
  await writeFile(broken, before.replace('"rank": 0', '"rank": -1'));
  const line = refused(await otsfed("federation", "add-member", broken, "--data-dir", b, "--url", "https://b.example.net", "--p2p", "/ip4/192.0.2.2/tcp/1"), 2, "malformed");
  assert.is(line, `otsfed federation add-member: FEDERATION_BAD_DEFINITION: ${broken}: members[0].rank: must be a non-negative integer`);
  assert.not.ok((await readdir(dir)).includes("b"), "no identity created for a malformed definition");
})));

AddMember("should append with the next rank after the highest :: ranks 0 and 7 in the file", withTimeout(30_000, () => withDir(async (dir) => {
  const file = join(dir, "fed.json");
  for (const op of ["a", "b"]) assert.is((await otsfed("identity", "--data-dir", join(dir, op))).code, 0);
  const ids = [(await loadIdentity(join(dir, "a")))?.peerId as string, (await loadIdentity(join(dir, "b")))?.peerId as string];
  await writeFile(file, encodeFederationDefinition({version: 1, name: "x", members: [
    {calendarId: ids[0] as string, url: "https://a.example.net", p2p: ["/ip4/192.0.2.1/tcp/1"], rank: 7},
  ]}));
  const r = await otsfed("federation", "add-member", file, "--data-dir", join(dir, "b"), "--url", "https://b.example.net", "--p2p", "/ip4/192.0.2.2/tcp/1");
  assert.is(r.code, 0, r.stderr);
  assert.equal(parseFederationDefinition(await readFile(file, "utf8"), file).members.map((m) => [m.calendarId, m.rank]), [[ids[0], 7], [ids[1], 8]]);
})));

AddMember.run();

// ---

const Show = suite("node/cli otsfed federation show");

Show("should refuse a malformed, missing or later-version file with exit 2 and the problem :: one line each", withTimeout(20_000, () => withDir(async (dir) => {
  const f = join(dir, "f.json");
  const cases: Array<{text: string | null; says: string}> = [
    {text: null, says: `FEDERATION_UNREADABLE: ${f}: cannot read it (ENOENT)`},
    {text: "{", says: `FEDERATION_BAD_DEFINITION: ${f}: not JSON (`},
    {text: '{"name": "x", "members": []}', says: `FEDERATION_BAD_DEFINITION: ${f}: not a federation definition: no 'otsfedFederation' key`},
    {text: '{"otsfedFederation": 2, "name": "x", "members": []}', says: `FEDERATION_UNSUPPORTED_VERSION: ${f}: otsfedFederation: version 2 is not supported: this otsfed reads version 1`},
    {text: '{"otsfedFederation": 1, "name": "x", "members": [{"calendarId": "nope", "url": "https://a.example.net", "p2p": ["/ip4/192.0.2.1/tcp/1"], "rank": 0}]}', says: `FEDERATION_BAD_DEFINITION: ${f}: members[0].calendarId: 'nope' is not an Ed25519 libp2p peer id`},
  ];
  for (const c of cases) {
    await rm(f, {force: true});
    if (c.text !== null) await writeFile(f, c.text);
    const line = refused(await otsfed("federation", "show", f), 2, c.says);
    assert.ok(line.startsWith(`otsfed federation show: ${c.says}`), line);
  }
  assert.is(refused(await otsfed("federation", "show"), 2, "no file"), "otsfed federation show: expected exactly one FILE: the federation definition");
  assert.is(refused(await otsfed("federation", "show", f, f), 2, "two files"), "otsfed federation show: expected exactly one FILE: the federation definition");
})));

Show("should show the example in bootstrap/ :: three members", withTimeout(10_000, async () => {
  const r = await otsfed("federation", "show", fileURLToPath(new URL("../../../bootstrap/federation.example.json", import.meta.url)));
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^federation example \(definition version 1\), 3 members\n/);
  assert.match(r.stdout, /url {11}https:\/\/c\.example\.net\n/);
}));

Show.run();

// ---

const NodeStart = suite("node/cli otsfed node --federation");

NodeStart("should refuse a definition it cannot join with exit 2, before creating anything :: malformed, empty, not naming the node, no identity yet, a mirror of nothing", withTimeout(30_000, () => withDir(async (dir) => {
  const fed = join(dir, "fed.json");
  const data = join(dir, "data");
  const other = join(dir, "other");
  await writeFile(fed, '{"otsfedFederation": 1, "name": "x", "members": [], "extra": 1}');
  for (const cmd of ["node", "mirror"]) {
    const line = refused(await otsfed(cmd, "--data-dir", data, "--listen", "127.0.0.1:0", "--federation", fed), 2, `${cmd} malformed`);
    assert.is(line, `otsfed ${cmd}: FEDERATION_BAD_DEFINITION: ${fed}: unknown key 'extra' (known: otsfedFederation, name, members)`);
  }
  await rm(fed);
  assert.is((await otsfed("federation", "init", "--name", "x", "--out", fed)).code, 0);
  for (const cmd of ["node", "mirror"]) {
    const line = refused(await otsfed(cmd, "--data-dir", data, "--listen", "127.0.0.1:0", "--federation", fed), 2, `${cmd} empty`);
    assert.match(line, new RegExp(`^otsfed ${cmd}: FEDERATION_NOT_MEMBER: .*fed\\.json: names no members yet; add each with 'otsfed federation add-member `));
  }
  assert.is((await otsfed("federation", "add-member", fed, "--data-dir", other, "--url", "https://o.example.net", "--p2p", "/ip4/192.0.2.1/tcp/1")).code, 0);
  const noIdentity = refused(await otsfed("node", "--data-dir", data, "--listen", "127.0.0.1:0", "--federation", fed), 2, "no identity");
  assert.is(noIdentity, `otsfed node: FEDERATION_NOT_MEMBER: ${fed}: cannot name this node: ${data} has no identity yet (create it with 'otsfed identity --data-dir ${data}', add the node with 'otsfed federation add-member'), or run it as a mirror ('otsfed mirror')`);
  assert.not.ok((await readdir(dir)).includes("data"), "nothing created in the data dir");
  await mkdir(data);
  assert.is((await otsfed("identity", "--data-dir", data)).code, 0);
  const id = (await loadIdentity(data))?.peerId as string;
  const stranger = refused(await otsfed("node", "--data-dir", data, "--listen", "127.0.0.1:0", "--federation", fed), 2, "not a member");
  assert.is(stranger, `otsfed node: FEDERATION_NOT_MEMBER: ${fed}: does not name this node (${id}) as a member of federation x: add it with 'otsfed federation add-member', or run it as a mirror ('otsfed mirror')`);
  assert.equal(await readdir(data), ["identity.key"], "no journal or index created");
  // A mirror of nothing, by either spelling.
  for (const argv of [["mirror", "--data-dir", data], ["node", "--data-dir", data, "--mirror-only", "true"]]) {
    assert.is(refused(await otsfed(...argv), 2, argv.join(" ")), `otsfed ${argv[0]}: OPTIONS_CONFLICT: --mirror-only needs --federation FILE: a mirror follows the calendars a federation definition names`);
  }
})));

NodeStart("should list the new commands in the help within 80 columns :: otsfed --help, each command's --help, mirror --help-options", withTimeout(10_000, async () => {
  const help = await otsfed("--help");
  for (const c of ["mirror", "identity", "federation init", "federation add-member", "federation show"]) {
    assert.ok(help.stdout.includes(`\n  ${c} `), c);
    const own = await otsfed(...c.split(" "), "--help");
    assert.is(own.code, 0, c);
    for (const line of own.stdout.split("\n")) assert.ok(line.length <= 80, `${c}: ${line}`);
  }
  const options = await otsfed("mirror", "--help-options");
  assert.is(options.code, 0);
  assert.match(options.stdout, /\n {2}--mirror-only\n/);
  for (const line of help.stdout.split("\n")) assert.ok(line.length <= 80, line);
}));

NodeStart.run();
