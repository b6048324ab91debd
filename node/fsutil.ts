/** Small durable-filesystem helpers shared by the journal, identity and stamper code. */
import {open, rename} from "node:fs/promises";
import {join} from "node:path";

/** fsync a directory so a created, renamed or removed entry survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replace `dir/name` with `data` so that after a crash the file holds either
 * the old bytes or the new, never a mix: write a temporary file, fsync it,
 * rename it over the old one, fsync the directory.
 */
export async function writeFileAtomic(dir: string, name: string, data: Uint8Array): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  await fsyncDir(dir);
}

