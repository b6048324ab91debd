/** Small durable-filesystem helpers shared by the journal, identity and stamper code. */
import {link, open, rename, unlink} from "node:fs/promises";
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
 * rename it over the old one, fsync the directory. `mode` applies to the
 * new file (0600 for anything an operator should not share).
 */
export async function writeFileAtomic(dir: string, name: string, data: Uint8Array, mode = 0o644): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  // A temporary file a crash left keeps its old mode when reopened: start afresh.
  await unlink(tmp).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e;
  });
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  await fsyncDir(dir);
}


/**
 * Create `dir/name` holding `data`, durably, and never over an existing
 * file: like {@link writeFileAtomic}, but the temporary file is linked to
 * its name rather than renamed over it, so an existing file is refused
 * (EEXIST) however the race with another writer goes.
 */
export async function createFileAtomic(dir: string, name: string, data: Uint8Array, mode = 0o644): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  await unlink(tmp).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e;
  });
  const fh = await open(tmp, "wx", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, join(dir, name));
  } finally {
    await unlink(tmp);
  }
  await fsyncDir(dir);
}
