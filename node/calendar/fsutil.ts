/** Small durable-filesystem helpers shared by the journal and identity code. */
import {open} from "node:fs/promises";
import {hash} from "node:crypto";

/** fsync a directory so a created, renamed or removed entry survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Native sha256 for the journal's hot paths (chain hashes, nonced leaves); same bytes as protocol/'s. */
export const nativeSha256 = (data: Uint8Array): Uint8Array => hash("sha256", data, "buffer");
