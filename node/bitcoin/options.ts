/**
 * Which Bitcoin node a calendar uses, its defaults and its rows of settings
 * (STYLE §11; aggregated by node/options.ts). No `rpcUrl`: no Bitcoin node,
 * no stamping.
 */
import type {OptionSpec} from "../config/option-spec.ts";
import {badValue, OptionsError, OptionsErrorCode} from "../config/option-spec.ts";
import {nonEmptyString} from "../config/values.ts";
import {defaultCoreRpcBackendOptions} from "./core-rpc.ts";

/** Bitcoin Core's JSON-RPC when `rpcUrl` is set, none otherwise. */
export type BitcoinOptions = {
  rpcUrl: string | null;
  /** bitcoind's `.cookie` file, instead of a password in `rpcUrl`. */
  cookieFile: string | null;
  /** The watch-only Core wallet holding the stamping descriptor. */
  wallet: string;
};

/** No Bitcoin node; Core's wallet name as the backend defaults it. */
export const defaultBitcoinOptions: BitcoinOptions = {rpcUrl: null, cookieFile: null, wallet: defaultCoreRpcBackendOptions.wallet};

/**
 * bitcoind's RPC URL: http with a host, optionally user:password, no path
 * beyond `/`. https is refused here, at start, rather than by the JSON-RPC
 * client once the node is half up: Bitcoin Core serves its RPC over plain
 * http only, and our client speaks nothing else.
 */
export function checkBitcoinRpcUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw badValue("must be a URL like http://user:password@127.0.0.1:8332");
  }
  if (u.protocol === "https:") throw badValue("https is not supported: Bitcoin Core's JSON-RPC is plain http (use http://, through an SSH tunnel or a VPN for a remote node)");
  if (u.protocol !== "http:" || u.hostname === "" || (u.pathname !== "/" && u.pathname !== "")) {
    throw badValue("must be a URL like http://user:password@127.0.0.1:8332 (http, a host, no path)");
  }
  return v;
}

/** True when the URL carries a user or a password (what the JSON-RPC client sends as Basic auth). */
function hasUrlCredentials(rpcUrl: string): boolean {
  const u = new URL(rpcUrl);
  return u.username !== "" || u.password !== "";
}

/** `--bitcoin-rpc`, `--bitcoin-cookie` and `--bitcoin-wallet`. */
export const bitcoinOptionSpecs: readonly OptionSpec<BitcoinOptions>[] = [
  {
    key: "bitcoinRpc",
    env: "OTSFED_BITCOIN_RPC",
    flag: "--bitcoin-rpc",
    help: "Bitcoin Core JSON-RPC URL, http://USER:PASS@HOST:PORT (http only; default: no Bitcoin node)",
    apply: (o, v) => void (o.rpcUrl = checkBitcoinRpcUrl(nonEmptyString(v))),
  },
  {key: "bitcoinCookie", env: "OTSFED_BITCOIN_COOKIE", flag: "--bitcoin-cookie", help: "bitcoind's .cookie file, instead of a password in the URL", apply: (o, v) => void (o.cookieFile = nonEmptyString(v))},
  {
    key: "bitcoinWallet",
    env: "OTSFED_BITCOIN_WALLET",
    flag: "--bitcoin-wallet",
    help: `watch-only Core wallet for the stamping descriptor (default ${defaultCoreRpcBackendOptions.wallet})`,
    apply: (o, v) => {
      const wallet = nonEmptyString(v);
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(wallet)) throw badValue("must be 1-64 characters from A-Z a-z 0-9 . _ -");
      o.wallet = wallet;
    },
  },
];

/** Checks across the rows, once every source is applied. */
export function checkBitcoinOptions(o: BitcoinOptions): void {
  if (o.cookieFile !== null && o.rpcUrl === null) throw new OptionsError(OptionsErrorCode.CONFLICT, "--bitcoin-cookie needs --bitcoin-rpc (the URL of the node the cookie is for)");
}

/**
 * Refuse a Bitcoin node that cannot be logged in to: a URL without
 * user:password and no cookie file. Commands that use the node (`otsfed
 * node`, `otsfed verify`) call it before they create or read anything,
 * rather than let the JSON-RPC client refuse it once the node is half up.
 * (Not part of {@link checkBitcoinOptions}, which resolves settings that may
 * be completed elsewhere, e.g. in tests.)
 */
export function checkBitcoinCredentials(o: BitcoinOptions): void {
  if (o.rpcUrl !== null && o.cookieFile === null && !hasUrlCredentials(o.rpcUrl)) {
    throw new OptionsError(OptionsErrorCode.REQUIRED, "--bitcoin-rpc needs credentials: http://USER:PASS@HOST:PORT, or --bitcoin-cookie FILE");
  }
}
