/**
 * Options of the node's part in a federation, their defaults and their rows
 * of settings (STYLE §11: next to the module, aggregated by
 * node/options.ts). Without `file` the node runs alone, exactly as it did
 * before federations existed.
 */
import {multiaddr} from "@multiformats/multiaddr";
import {badValue, OptionsError, OptionsErrorCode} from "../config/option-spec.ts";
import type {OptionSpec} from "../config/option-spec.ts";
import {boolean, nonEmptyString} from "../config/values.ts";
import {MAX_MULTIADDR_LENGTH} from "./definition.ts";

export type FederationOptions = {
  /** Path of the federation definition, "" = run alone (exactly as before federations). */
  file: string;
  /** libp2p listen multiaddrs, e.g. /ip4/0.0.0.0/tcp/4001 and /ip4/0.0.0.0/tcp/4002/ws. */
  p2pListen: string[];
  /** Follow every calendar of the federation without a calendar of our own: no digests accepted. */
  mirrorOnly: boolean;
};

/** Alone; were it to join, on loopback at any free port (tests, devnets): an operator names the public one. */
export const defaultFederationOptions: FederationOptions = {file: "", p2pListen: ["/ip4/127.0.0.1/tcp/0"], mirrorOnly: false};

/** Listen addresses per node: a few transports and families, not a list to scan. */
export const MAX_P2P_LISTEN_ADDRS = 16;

/**
 * One listen address: a canonical multiaddr of an IP address and TCP port,
 * optionally `/ws` (the node's transports are TCP and WebSockets; a host
 * listens on an address, not on a DNS name).
 */
function listenAddress(s: string): string {
  const must = "must be a multiaddr of an IP and TCP port, optionally /ws, like /ip4/0.0.0.0/tcp/4001 or /ip6/::/tcp/4002/ws";
  if (s.length > MAX_MULTIADDR_LENGTH) throw badValue(`${must} (at most ${MAX_MULTIADDR_LENGTH} characters)`);
  let names: string[];
  try {
    const ma = multiaddr(s);
    if (ma.toString() !== s) throw badValue(`'${s}': write it as ${ma.toString()}`);
    names = ma.getComponents().map((c) => c.name);
  } catch (e) {
    if (e instanceof OptionsError) throw e;
    throw badValue(`'${s}': ${must}`);
  }
  const [ip, tcp, ...rest] = names;
  if ((ip !== "ip4" && ip !== "ip6") || tcp !== "tcp" || rest.length > 1 || (rest.length === 1 && rest[0] !== "ws")) throw badValue(`'${s}': ${must}`);
  return s;
}

/** A list of listen addresses: comma-separated in a string (flag, environment), or a JSON list of strings. */
function listenAddresses(v: unknown): string[] {
  const items = typeof v === "string" ? v.split(",").map((s) => s.trim()) : Array.isArray(v) && v.every((s) => typeof s === "string") ? (v as string[]) : null;
  if (items === null || items.length < 1 || items.length > MAX_P2P_LISTEN_ADDRS || items.some((s) => s === "")) {
    throw badValue(`must be a list of 1 to ${MAX_P2P_LISTEN_ADDRS} multiaddrs, comma-separated (or a JSON list in the config file)`);
  }
  return items.map(listenAddress);
}

/** `--federation`, `--p2p-listen` and `--mirror-only`. */
export const federationOptionSpecs: readonly OptionSpec<FederationOptions>[] = [
  {
    key: "federation",
    env: "OTSFED_FEDERATION",
    flag: "--federation",
    help: "federation definition file to join, made with 'otsfed federation init' and 'add-member' (default none: the node runs alone)",
    apply: (o, v) => void (o.file = nonEmptyString(v)),
  },
  {
    key: "p2pListen",
    env: "OTSFED_P2P_LISTEN",
    flag: "--p2p-listen",
    help: `libp2p listen multiaddrs, comma-separated, e.g. /ip4/0.0.0.0/tcp/4001,/ip4/0.0.0.0/tcp/4002/ws (default ${defaultFederationOptions.p2pListen.join(",")})`,
    apply: (o, v) => void (o.p2pListen = listenAddresses(v)),
  },
  {
    key: "mirrorOnly",
    env: "OTSFED_MIRROR_ONLY",
    flag: "--mirror-only",
    help: "true or false: follow every calendar of the federation and answer for them, with no calendar of its own and taking no digests; needs --federation (default false; 'otsfed mirror' sets it)",
    apply: (o, v) => void (o.mirrorOnly = boolean(v)),
  },
];

/** Refuse settings that make no sense together: a mirror of no federation. */
export function checkFederationOptions(o: FederationOptions): void {
  if (o.mirrorOnly && o.file === "") throw new OptionsError(OptionsErrorCode.CONFLICT, "--mirror-only needs --federation FILE: a mirror follows the calendars a federation definition names");
}
