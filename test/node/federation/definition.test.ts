import {suite} from "uvu";
import * as assert from "uvu/assert";
import {mkdir, mkdtemp, readFile, rm, writeFile} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {generateKeyPair} from "@libp2p/crypto/keys";
import {peerIdFromPrivateKey} from "@libp2p/peer-id";
import {
  encodeFederationDefinition,
  federationTopic,
  FederationError,
  FederationErrorCode,
  loadFederationDefinition,
  MAX_DEFINITION_FILE_BYTES,
  MAX_FEDERATION_MEMBERS,
  memberOf,
  parseFederationDefinition,
  requireMember,
} from "../../../node/federation/definition.ts";
import type {FederationDefinition} from "../../../node/federation/definition.ts";
import {withTimeout} from "../../support/timeout.ts";

const FILE = "fed.json";

async function ed25519Id(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString();
}

/** Three fresh Ed25519 peer ids, and a valid definition naming them (as JSON, for mutating). */
async function fixture(): Promise<{ids: string[]; doc: () => {otsfedFederation: unknown; name: unknown; members: Array<Record<string, unknown>>}}> {
  const ids = [await ed25519Id(), await ed25519Id(), await ed25519Id()];
  const doc = (): {otsfedFederation: unknown; name: unknown; members: Array<Record<string, unknown>>} => ({
    otsfedFederation: 1,
    name: "test-fed",
    members: ids.map((id, i) => ({calendarId: id, url: `https://${"abc"[i]}.example.net`, p2p: [`/dns4/${"abc"[i]}.example.net/tcp/4001`, `/ip4/192.0.2.${i + 1}/tcp/4002/ws`], rank: i})),
  });
  return {ids, doc};
}

/** The refusal of `text`: its code and message (fails if it is accepted). */
function refusal(text: string): {code: string; message: string} {
  try {
    parseFederationDefinition(text, FILE);
  } catch (e) {
    if (e instanceof FederationError) return {code: e.code, message: e.message};
    throw e;
  }
  assert.unreachable(`accepted: ${text.slice(0, 200)}`);
  return {code: "", message: ""};
}

// ---

const Parse = suite("node/federation/definition parseFederationDefinition");

Parse("should accept a valid definition and give its members in rank order :: ranks out of order, not contiguous", withTimeout(10_000, async () => {
  const {ids, doc} = await fixture();
  const d = doc();
  d.members = [{...d.members[2], rank: 40}, {...d.members[0], rank: 3}, {...d.members[1], rank: 7}];
  const def = parseFederationDefinition(JSON.stringify(d), FILE);
  assert.is(def.version, 1);
  assert.is(def.name, "test-fed");
  assert.equal(def.members.map((m) => m.rank), [3, 7, 40]);
  assert.equal(def.members.map((m) => m.calendarId), ids);
  assert.equal(def.members[0], {calendarId: ids[0], url: "https://a.example.net", p2p: ["/dns4/a.example.net/tcp/4001", "/ip4/192.0.2.1/tcp/4002/ws"], rank: 3});
}));

Parse("should accept a definition with no members yet :: what init writes", () => {
  const def = parseFederationDefinition(JSON.stringify({otsfedFederation: 1, name: "x", members: []}), FILE);
  assert.equal(def, {version: 1, name: "x", members: []});
});

Parse("should accept every address form a member may use :: tcp, ws, wss, tls/ws, ip4, ip6, dns, own /p2p/", withTimeout(10_000, async () => {
  const {ids, doc} = await fixture();
  const d = doc();
  const addrs = ["/ip4/192.0.2.1/tcp/4001", "/ip6/2001:db8::1/tcp/4001", "/dns/a.example.net/tcp/4001", "/dns4/a.example.net/tcp/80/ws", "/dns4/a.example.net/tcp/443/wss", "/dns6/a.example.net/tcp/443/tls/ws", `/ip4/192.0.2.1/tcp/4001/p2p/${ids[0]}`];
  (d.members[0] as Record<string, unknown>).p2p = addrs;
  assert.equal(parseFederationDefinition(JSON.stringify(d), FILE).members[0]?.p2p, addrs);
}));

/** A mutation of the valid fixture (encoded as JSON, or given as the file's text with `raw`) and its expected refusal. */
type Case = {what: string; mutate: (d: ReturnType<Awaited<ReturnType<typeof fixture>>["doc"]>, ids: string[]) => unknown; raw?: true; code?: string; says: RegExp};

const REFUSALS: Case[] = [
  {what: "not JSON", mutate: () => "{", raw: true, says: /^fed\.json: not JSON \(/},
  {what: "a JSON list", mutate: () => [], says: /^fed\.json: must hold a JSON object$/},
  {what: "a JSON string", mutate: () => "x", says: /^fed\.json: must hold a JSON object$/},
  {what: "null", mutate: () => null, says: /^fed\.json: must hold a JSON object$/},
  {what: "no version key", mutate: (d) => ({name: d.name, members: d.members}), says: /^fed\.json: not a federation definition: no 'otsfedFederation' key .*this otsfed reads version 1\)$/},
  {what: "a later version", mutate: (d) => ({...d, otsfedFederation: 2}), code: FederationErrorCode.UNSUPPORTED_VERSION, says: /^fed\.json: otsfedFederation: version 2 is not supported: this otsfed reads version 1 /},
  {what: "a version as a string", mutate: (d) => ({...d, otsfedFederation: "1"}), says: /^fed\.json: otsfedFederation: must be a definition version, a positive integer/},
  {what: "version 0", mutate: (d) => ({...d, otsfedFederation: 0}), says: /^fed\.json: otsfedFederation: must be a definition version/},
  {what: "version 1.5", mutate: (d) => ({...d, otsfedFederation: 1.5}), says: /^fed\.json: otsfedFederation: must be a definition version/},
  {what: "an unknown top-level key", mutate: (d) => ({...d, extra: true}), says: /^fed\.json: unknown key 'extra' \(known: otsfedFederation, name, members\)$/},
  {what: "no name", mutate: (d) => ({otsfedFederation: 1, members: d.members}), says: /^fed\.json: missing key 'name'$/},
  {what: "an empty name", mutate: (d) => ({...d, name: ""}), says: /^fed\.json: name: must be 1 to 64 characters of a-z, 0-9 and '-'/},
  {what: "a name of 65 characters", mutate: (d) => ({...d, name: "a".repeat(65)}), says: /^fed\.json: name: must be 1 to 64 characters/},
  {what: "a name with capitals", mutate: (d) => ({...d, name: "Example"}), says: /^fed\.json: name: must be 1 to 64 characters/},
  {what: "a name with a slash", mutate: (d) => ({...d, name: "a/b"}), says: /^fed\.json: name: must be 1 to 64 characters/},
  {what: "a name that is a number", mutate: (d) => ({...d, name: 7}), says: /^fed\.json: name: must be a string$/},
  {what: "no members key", mutate: (d) => ({otsfedFederation: 1, name: d.name}), says: /^fed\.json: missing key 'members'$/},
  {what: "members an object", mutate: (d) => ({...d, members: {}}), says: /^fed\.json: members: must be a list of at most 64 members$/},
  {what: "a member a string", mutate: (d) => ({...d, members: [d.members[0], "x"]}), says: /^fed\.json: members\[1\]: must be an object with calendarId, url, p2p and rank$/},
  {what: "a member with an unknown key", mutate: (d) => ({...d, members: [{...d.members[0], weight: 1}]}), says: /^fed\.json: members\[0\]: unknown key 'weight' \(known: calendarId, url, p2p, rank\)$/},
  ...(["calendarId", "url", "p2p", "rank"] as const).map((k): Case => ({
    what: `a member without ${k}`,
    mutate: (d) => {
      const m = {...d.members[1]};
      delete m[k];
      return {...d, members: [d.members[0], m]};
    },
    says: new RegExp(`^fed\\.json: members\\[1\\]: missing key '${k}'$`),
  })),
  {what: "a calendar id that is not a peer id", mutate: (d) => ({...d, members: [{...d.members[0], calendarId: "hello"}]}), says: /^fed\.json: members\[0\]\.calendarId: 'hello' is not an Ed25519 libp2p peer id/},
  {what: "a truncated peer id", mutate: (d, ids) => ({...d, members: [{...d.members[0], calendarId: (ids[0] as string).slice(0, -3)}]}), says: /^fed\.json: members\[0\]\.calendarId: '12D3KooW.*' is not an Ed25519 libp2p peer id/},
  {what: "an RSA peer id (a key hash, no key)", mutate: (d) => ({...d, members: [{...d.members[0], calendarId: "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"}]}), says: /^fed\.json: members\[0\]\.calendarId: 'QmYy.*' is not an Ed25519 libp2p peer id/},
  {what: "a calendar id that is a number", mutate: (d) => ({...d, members: [{...d.members[0], calendarId: 12}]}), says: /^fed\.json: members\[0\]\.calendarId: must be a string$/},
  {what: "a url with a path", mutate: (d) => ({...d, members: [{...d.members[0], url: "https://a.example.net/cal"}]}), says: /^fed\.json: members\[0\]\.url: must be a bare origin like https:\/\/calendar\.example\.net/},
  {what: "a url with a trailing slash", mutate: (d) => ({...d, members: [{...d.members[0], url: "https://a.example.net/"}]}), says: /^fed\.json: members\[0\]\.url: must be a bare origin/},
  {what: "a url without a scheme", mutate: (d) => ({...d, members: [{...d.members[0], url: "a.example.net"}]}), says: /^fed\.json: members\[0\]\.url: must be a bare origin/},
  {what: "a url that is not a string", mutate: (d) => ({...d, members: [{...d.members[0], url: null}]}), says: /^fed\.json: members\[0\]\.url: must be a string$/},
  {what: "an empty p2p list", mutate: (d) => ({...d, members: [{...d.members[0], p2p: []}]}), says: /^fed\.json: members\[0\]\.p2p: must be a list of 1 to 16 multiaddrs$/},
  {what: "17 p2p addresses", mutate: (d) => ({...d, members: [{...d.members[0], p2p: Array.from({length: 17}, (_, i) => `/ip4/192.0.2.1/tcp/${4000 + i}`)}]}), says: /^fed\.json: members\[0\]\.p2p: must be a list of 1 to 16 multiaddrs$/},
  {what: "p2p a string", mutate: (d) => ({...d, members: [{...d.members[0], p2p: "/ip4/192.0.2.1/tcp/1"}]}), says: /^fed\.json: members\[0\]\.p2p: must be a list of 1 to 16/},
  {what: "a p2p entry that is not a multiaddr", mutate: (d) => ({...d, members: [{...d.members[0], p2p: ["a.example.net:4001"]}]}), says: /^fed\.json: members\[0\]\.p2p\[0\]: 'a\.example\.net:4001' is not a multiaddr \(/},
  {what: "a p2p entry with a bad IPv4", mutate: (d) => ({...d, members: [{...d.members[0], p2p: ["/ip4/192.0.2.1/tcp/1", "/ip4/300.0.0.1/tcp/1"]}]}), says: /^fed\.json: members\[0\]\.p2p\[1\]: '\/ip4\/300\.0\.0\.1\/tcp\/1' is not a multiaddr/},
  {what: "a p2p entry with a port out of range", mutate: (d) => ({...d, members: [{...d.members[0], p2p: ["/ip4/192.0.2.1/tcp/70000"]}]}), says: /^fed\.json: members\[0\]\.p2p\[0\]: .* is not a multiaddr/},
  {what: "a p2p entry not in canonical form", mutate: (d) => ({...d, members: [{...d.members[0], p2p: ["/ip4/192.0.2.1/tcp/4001/"]}]}), says: /^fed\.json: members\[0\]\.p2p\[0\]: write it as \/ip4\/192\.0\.2\.1\/tcp\/4001$/},
  {what: "a p2p entry no transport dials (no port)", mutate: (d) => ({...d, members: [{...d.members[0], p2p: ["/ip4/192.0.2.1"]}]}), says: /^fed\.json: members\[0\]\.p2p\[0\]: '\/ip4\/192\.0\.2\.1' is not an address TCP or WebSockets can dial/},
  {what: "a p2p entry over QUIC", mutate: (d) => ({...d, members: [{...d.members[0], p2p: ["/ip4/192.0.2.1/udp/4001/quic-v1"]}]}), says: /^fed\.json: members\[0\]\.p2p\[0\]: .* is not an address TCP or WebSockets can dial/},
  {what: "a p2p entry naming another peer", mutate: (d, ids) => ({...d, members: [{...d.members[0], p2p: [`/ip4/192.0.2.1/tcp/4001/p2p/${ids[1]}`]}]}), says: /^fed\.json: members\[0\]\.p2p\[0\]: '.*' names the peer 12D3KooW\S+, not this member$/},
  {what: "a p2p entry of 257 characters", mutate: (d) => ({...d, members: [{...d.members[0], p2p: [`/dns4/${"a".repeat(240)}.example/tcp/1`]}]}), says: /^fed\.json: members\[0\]\.p2p\[0\]: is 2\d\d characters; a multiaddr here is at most 256$/},
  {what: "a p2p entry that is a number", mutate: (d) => ({...d, members: [{...d.members[0], p2p: [4001]}]}), says: /^fed\.json: members\[0\]\.p2p\[0\]: must be a string$/},
  {what: "a p2p address listed twice", mutate: (d) => ({...d, members: [{...d.members[0], p2p: ["/ip4/192.0.2.1/tcp/1", "/ip4/192.0.2.1/tcp/1"]}]}), says: /^fed\.json: members\[0\]\.p2p\[1\]: '\/ip4\/192\.0\.2\.1\/tcp\/1' is listed twice \(also p2p\[0\]\)$/},
  {what: "a negative rank", mutate: (d) => ({...d, members: [{...d.members[0], rank: -1}]}), says: /^fed\.json: members\[0\]\.rank: must be a non-negative integer$/},
  {what: "a fractional rank", mutate: (d) => ({...d, members: [{...d.members[0], rank: 0.5}]}), says: /^fed\.json: members\[0\]\.rank: must be a non-negative integer$/},
  {what: "a rank as a string", mutate: (d) => ({...d, members: [{...d.members[0], rank: "0"}]}), says: /^fed\.json: members\[0\]\.rank: must be a non-negative integer$/},
  {what: "a member named twice", mutate: (d) => ({...d, members: [d.members[0], d.members[1], {...d.members[2], calendarId: d.members[0]?.calendarId}]}), says: /^fed\.json: members\[2\]\.calendarId: 12D3KooW\S+ is named twice \(also members\[0\]\)$/},
  {what: "two members at one rank", mutate: (d) => ({...d, members: [d.members[0], {...d.members[1], rank: 0}]}), says: /^fed\.json: members\[1\]\.rank: rank 0 is also members\[0\]'s; each member has its own$/},
  {what: "two members with one URL", mutate: (d) => ({...d, members: [d.members[0], {...d.members[1], url: "https://a.example.net"}]}), says: /^fed\.json: members\[1\]\.url: https:\/\/a\.example\.net is also members\[0\]'s; each calendar has its own URL$/},
  {what: "two members with one URL spelt in two cases", mutate: (d) => ({...d, members: [d.members[0], {...d.members[1], url: "https://A.Example.net"}]}), says: /^fed\.json: members\[1\]\.url: https:\/\/A\.Example\.net is also members\[0\]'s/},
];

Parse("should refuse each malformed definition with a message naming the file and where :: every rule", withTimeout(10_000, async () => {
  const {ids, doc} = await fixture();
  for (const c of REFUSALS) {
    const mutated = c.mutate(doc(), ids);
    const r = refusal(c.raw ? (mutated as string) : JSON.stringify(mutated));
    assert.is(r.code, c.code ?? FederationErrorCode.BAD_DEFINITION, c.what);
    assert.match(r.message, c.says, `${c.what}: ${r.message}`);
    assert.not.match(r.message, /\n/, c.what);
  }
}));

Parse("should refuse a peer id in another spelling, saying the canonical one :: the CID form of an Ed25519 id", withTimeout(10_000, async () => {
  const {doc} = await fixture();
  const key = await generateKeyPair("Ed25519");
  const id = peerIdFromPrivateKey(key);
  const d = doc();
  d.members = [{...d.members[0], calendarId: id.toCID().toString()}];
  const r = refusal(JSON.stringify(d));
  assert.is(r.code, FederationErrorCode.BAD_DEFINITION);
  assert.is(r.message, `fed.json: members[0].calendarId: write it as ${id.toString()}, the form 'otsfed identity' prints`);
}));

Parse("should refuse a secp256k1 peer id :: an id that embeds no Ed25519 key", withTimeout(10_000, async () => {
  const {doc} = await fixture();
  const secp = peerIdFromPrivateKey(await generateKeyPair("secp256k1")).toString();
  const d = doc();
  d.members = [{...d.members[0], calendarId: secp}];
  assert.match(refusal(JSON.stringify(d)).message, new RegExp(`^fed\\.json: members\\[0\\]\\.calendarId: '${secp}' is not an Ed25519 libp2p peer id`));
}));

Parse("should refuse more than 64 members and accept 64 :: the member limit", withTimeout(30_000, async () => {
  const ids: string[] = [];
  for (let i = 0; i <= MAX_FEDERATION_MEMBERS; i++) ids.push(await ed25519Id());
  const members = ids.map((id, i) => ({calendarId: id, url: `https://m${i}.example.net`, p2p: [`/dns4/m${i}.example.net/tcp/4001`], rank: i}));
  assert.is(parseFederationDefinition(JSON.stringify({otsfedFederation: 1, name: "big", members: members.slice(0, MAX_FEDERATION_MEMBERS)}), FILE).members.length, MAX_FEDERATION_MEMBERS);
  assert.match(refusal(JSON.stringify({otsfedFederation: 1, name: "big", members})).message, /^fed\.json: members: must be a list of at most 64 members$/);
}));

Parse.run();

// ---

const Encode = suite("node/federation/definition encodeFederationDefinition");

Encode("should round-trip, in rank order, canonically :: parse(encode(d)) = d, encode(parse(text)) = text", withTimeout(10_000, async () => {
  const {doc} = await fixture();
  const d = doc();
  d.members = [d.members[2] as Record<string, unknown>, d.members[0] as Record<string, unknown>, d.members[1] as Record<string, unknown>];
  const def = parseFederationDefinition(JSON.stringify(d), FILE);
  const text = encodeFederationDefinition(def);
  assert.ok(text.endsWith("}\n"));
  assert.equal(parseFederationDefinition(text, FILE), def);
  assert.is(encodeFederationDefinition(parseFederationDefinition(text, FILE)), text);
  // Key order and layout are fixed: version first, two-space indentation.
  assert.ok(text.startsWith(`{\n  "otsfedFederation": 1,\n  "name": "test-fed",\n  "members": [\n    {\n      "calendarId": "`), text);
}));

Encode("should sort members by rank, write only their own fields, and leave the input alone :: unsorted input with an extra field", withTimeout(10_000, async () => {
  const {ids} = await fixture();
  const def: FederationDefinition = {
    version: 1,
    name: "x",
    members: [
      {calendarId: ids[0] as string, url: "https://b.example.net", p2p: ["/ip4/192.0.2.2/tcp/1"], rank: 5},
      {calendarId: ids[1] as string, url: "https://a.example.net", p2p: ["/ip4/192.0.2.1/tcp/1"], rank: 1},
    ],
  };
  (def.members[0] as Record<string, unknown>).note = "not part of the format";
  const before = JSON.stringify(def);
  const parsed = parseFederationDefinition(encodeFederationDefinition(def), FILE);
  assert.equal(parsed.members.map((m) => m.rank), [1, 5]);
  assert.is(JSON.stringify(def), before, "input unchanged");
  assert.not.ok(encodeFederationDefinition(def).includes("note"));
}));

Encode("should parse the example in bootstrap/ and encode it to the same bytes :: bootstrap/federation.example.json", withTimeout(5_000, async () => {
  const path = fileURLToPath(new URL("../../../bootstrap/federation.example.json", import.meta.url));
  const text = await readFile(path, "utf8");
  const def = await loadFederationDefinition(path);
  assert.is(def.name, "example");
  assert.is(def.members.length, 3);
  assert.equal(def.members.map((m) => m.rank), [0, 1, 2]);
  assert.equal(def.members.map((m) => m.url), ["https://a.example.net", "https://b.example.net", "https://c.example.net"]);
  assert.is(encodeFederationDefinition(def), text);
}));

Encode.run();

// ---

const Load = suite("node/federation/definition loadFederationDefinition");

Load("should refuse a file it cannot read, a directory and one too large, naming the file :: UNREADABLE, BAD_DEFINITION", withTimeout(10_000, async () => {
  const dir = await mkdtemp(join(tmpdir(), "otsfed-fed-def-"));
  try {
    const codeOf = async (p: string): Promise<{code: string; message: string}> => {
      try {
        await loadFederationDefinition(p);
      } catch (e) {
        if (e instanceof FederationError) return {code: e.code, message: e.message};
        throw e;
      }
      return {code: "accepted", message: ""};
    };
    const missing = await codeOf(join(dir, "none.json"));
    assert.is(missing.code, FederationErrorCode.UNREADABLE);
    assert.is(missing.message, `${join(dir, "none.json")}: cannot read it (ENOENT)`);
    await mkdir(join(dir, "sub"));
    const sub = await codeOf(join(dir, "sub"));
    assert.is(sub.code, FederationErrorCode.UNREADABLE);
    assert.is(sub.message, `${join(dir, "sub")}: not a file`);
    await writeFile(join(dir, "big.json"), " ".repeat(MAX_DEFINITION_FILE_BYTES + 1));
    const big = await codeOf(join(dir, "big.json"));
    assert.is(big.code, FederationErrorCode.BAD_DEFINITION);
    assert.match(big.message, /big\.json: 1048577 bytes; a federation definition is at most 1048576$/);
    await writeFile(join(dir, "bad.json"), '{"otsfedFederation": 1, "name": "x", "members": [], "x": 1}');
    const bad = await codeOf(join(dir, "bad.json"));
    assert.is(bad.code, FederationErrorCode.BAD_DEFINITION);
    assert.is(bad.message, `${join(dir, "bad.json")}: unknown key 'x' (known: otsfedFederation, name, members)`);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}));

Load.run();

// ---

const Members = suite("node/federation/definition memberOf requireMember");

Members("should find a member by peer id, and refuse a node it does not name or an empty definition :: NOT_MEMBER names the file", withTimeout(10_000, async () => {
  const {ids, doc} = await fixture();
  const def = parseFederationDefinition(JSON.stringify(doc()), FILE);
  assert.is(memberOf(def, ids[1] as string)?.rank, 1);
  assert.is(requireMember(def, ids[2] as string, FILE).url, "https://c.example.net");
  const stranger = await ed25519Id();
  assert.is(memberOf(def, stranger), null);
  try {
    requireMember(def, stranger, FILE);
    assert.unreachable("a stranger was accepted");
  } catch (e) {
    assert.instance(e, FederationError);
    assert.is((e as FederationError).code, FederationErrorCode.NOT_MEMBER);
    assert.match((e as Error).message, new RegExp(`^fed\\.json: does not name this node \\(${stranger}\\) as a member of federation test-fed: `));
  }
  try {
    requireMember({version: 1, name: "empty", members: []}, ids[0] as string, FILE);
    assert.unreachable("an empty definition was accepted");
  } catch (e) {
    assert.is((e as FederationError).code, FederationErrorCode.NOT_MEMBER);
    assert.match((e as Error).message, /^fed\.json: names no members yet; add each with 'otsfed federation add-member fed\.json /);
  }
}));

Members("should name topics and protocols by federation, kind and version :: federationTopic", () => {
  assert.is(federationTopic({name: "example"}, "records"), "/otsfed/example/records/1");
  assert.is(federationTopic({name: "example"}, "journal", 2), "/otsfed/example/journal/2");
});

Members.run();
