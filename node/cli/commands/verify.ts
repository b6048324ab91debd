import {createReadStream} from "node:fs";
import {readFile} from "node:fs/promises";
import {sha256 as nobleSha256} from "@noble/hashes/sha2.js";
import {ripemd160, sha1} from "@noble/hashes/legacy.js";
import {keccak_256} from "@noble/hashes/sha3.js";
import {attestationToString, bytesEqual, decodeDetached, fromHex, listAttestations, toDisplayHex, toHex} from "../../../protocol/ots/index.ts";
import type {CryptOpKind} from "../../../protocol/ots/index.ts";
import {CliError} from "../command.ts";
import type {Command} from "../command.ts";
import {readInputFile} from "./files.ts";
import {parseArgs} from "./args.ts";
import {verifyBitcoinAttestations} from "../../bitcoin/verify-attestations.ts";
import type {AttestationVerdict} from "../../bitcoin/verify-attestations.ts";
import {BitcoinError} from "../../bitcoin/errors.ts";
import {bitcoinOptionSpecs, checkBitcoinCredentials, checkBitcoinOptions, defaultBitcoinOptions} from "../../bitcoin/options.ts";
import type {BitcoinOptions} from "../../bitcoin/options.ts";
import {applyOption, optionSource} from "../../config/option-spec.ts";

/**
 * `--bitcoin-rpc` and `--bitcoin-cookie` checked as `otsfed node` checks
 * them (the same rows), before anything is read: a bad URL, https, or no
 * credentials is a usage error (OptionsError, exit 2), not a failed check.
 */
function bitcoinFlags(rpcUrl: string | undefined, cookieFile: string | undefined): BitcoinOptions {
  const o: BitcoinOptions = {...defaultBitcoinOptions};
  for (const [flag, value] of [["--bitcoin-rpc", rpcUrl], ["--bitcoin-cookie", cookieFile]] as const) {
    const spec = bitcoinOptionSpecs.find((s) => s.flag === flag);
    if (spec !== undefined && value !== undefined) applyOption(o, spec, value, optionSource.flag(flag));
  }
  checkBitcoinOptions(o);
  checkBitcoinCredentials(o);
  return o;
}

const HASHERS = {sha256: nobleSha256, sha1, ripemd160, keccak256: keccak_256} as const;

/** Hash a target file with the proof's file-hash op, streaming so large files cost no memory. */
async function hashFile(path: string, op: CryptOpKind): Promise<Uint8Array> {
  const h = HASHERS[op].create();
  try {
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? "EIO"}`, 1);
  }
  return h.digest();
}

/** `2015-05-28 UTC`: like `ots verify`, the day only, on purpose. */
function day(unixSeconds: number): string {
  return `${new Date(unixSeconds * 1000).toISOString().slice(0, 10)} UTC`;
}

/**
 * `otsfed verify FILE.ots [--target FILE | --digest HEX] [--bitcoin-rpc URL]`:
 * check that the proof is for the target, list every attestation with the
 * message it attests, and with a Bitcoin node check the Bitcoin attestations
 * against its headers, lowest height first, as `ots verify` does. Without a
 * node nothing is verified against the chain: it says so and exits 1.
 */
export const verifyCommand: Command = {
  name: "verify",
  usage: "verify FILE.ots [--target FILE | --digest HEX] [--bitcoin-rpc URL [--bitcoin-cookie FILE]]",
  summary: "check a proof against its file and list what it attests",
  async run(argv, io) {
    const {positional, flags} = parseArgs(argv, {target: "string", digest: "string", "bitcoin-rpc": "string", "bitcoin-cookie": "string"});
    if (positional.length !== 1) throw new CliError("expected exactly one FILE.ots");
    const proofPath = positional[0] as string;
    if (flags.target !== undefined && flags.digest !== undefined) throw new CliError("give --target or --digest, not both");
    const bitcoin = bitcoinFlags(flags["bitcoin-rpc"], flags["bitcoin-cookie"]);
    const file = decodeDetached(await readInputFile(proofPath, readFile));

    let digest: Uint8Array;
    if (flags.digest !== undefined) {
      const d = fromHex(flags.digest);
      if (!d) throw new CliError("--digest must be hex");
      digest = d;
    } else {
      const target = flags.target ?? (proofPath.endsWith(".ots") ? proofPath.slice(0, -4) : null);
      if (target === null) throw new CliError("cannot guess the target of a file not ending in .ots; give --target FILE or --digest HEX");
      digest = await hashFile(target, file.fileHashOp);
    }
    if (!bytesEqual(digest, file.timestamp.msg)) {
      io.stderr(`File does not match original! (${file.fileHashOp} ${toHex(digest)}, proof is for ${toHex(file.timestamp.msg)})`);
      return 1;
    }
    io.stdout(`Target matches the proof: ${file.fileHashOp} ${toHex(digest)}`);

    const attested = listAttestations(file.timestamp);
    for (const {msg, attestation} of attested) {
      const what = attestation.kind === "bitcoin" ? `merkle root ${toDisplayHex(msg)}` : `message ${toHex(msg)}`;
      io.stdout(`  ${attestationToString(attestation)} attests ${what}`);
    }
    if (attested.length === 0) io.stdout("  (no attestations)");
    const rpcUrl = bitcoin.rpcUrl;
    if (rpcUrl === null) {
      io.stderr("No Bitcoin node was consulted, so no attestation was verified; nothing is proven yet (give --bitcoin-rpc URL).");
      return 1;
    }
    const toCheck = attested.flatMap(({msg, attestation: a}) => (a.kind === "bitcoin" ? [{msg, height: a.height}] : []));
    if (toCheck.length === 0) {
      io.stderr("Failed! The proof has no Bitcoin attestation yet; upgrade it once the calendar has stamped it.");
      return 1;
    }
    let verdicts: AttestationVerdict[];
    try {
      verdicts = await verifyBitcoinAttestations(toCheck, {rpcUrl, cookieFile: bitcoin.cookieFile}, {signal: AbortSignal.timeout(60_000)});
    } catch (e) {
      if (e instanceof BitcoinError) throw new CliError(`Bitcoin node: ${e.message}`, 1);
      throw e;
    }
    for (const v of verdicts) {
      if (v.ok) {
        io.stdout(`Success! Bitcoin block ${v.height} attests existence as of ${day(v.time)}`);
        return 0;
      }
      io.stderr(`Bitcoin verification failed: ${v.reason}`);
    }
    return 1;
  },
};
