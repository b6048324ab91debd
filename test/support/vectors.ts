/** Paths to the shared vectors beside the project (`../shared/vectors`). */
import {readdirSync, readFileSync, statSync} from "node:fs";
import {join, relative} from "node:path";
import {fileURLToPath} from "node:url";

export const VECTORS_DIR = fileURLToPath(new URL("../../../shared/vectors/", import.meta.url));

export function vectorPath(rel: string): string {
  return join(VECTORS_DIR, rel);
}

export function readVector(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(vectorPath(rel)));
}

/** Every `.ots` file under the vectors, as paths relative to VECTORS_DIR, sorted. */
export function allOtsVectors(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ots")) out.push(relative(VECTORS_DIR, p));
    }
  };
  walk(VECTORS_DIR);
  return out;
}

export type SummaryAttestation = {type: string; msg_hex: string; height?: number; uri?: string; merkleroot_display_hex?: string; tag_hex?: string; payload_hex?: string};
export type SummaryEntry = {
  file: string;
  file_digest?: string;
  file_hash_op?: string;
  attestations?: SummaryAttestation[];
  max_ops_on_a_path?: number;
  parse_error?: {message: string; type: string};
  target_matches?: boolean;
  size: number;
};

export function readSummary(): SummaryEntry[] {
  return JSON.parse(readFileSync(vectorPath("expected/summary.json"), "utf8")) as SummaryEntry[];
}
