import {CliError} from "../command.ts";

/** Proof files are small; refuse anything that could not be one rather than reading it whole. */
export const MAX_PROOF_FILE_BYTES = 16 * 1024 * 1024;

type ReadFile = (path: string) => Promise<Buffer>;

/** Read a file for a command, turning I/O failures into one-line CLI errors. */
export async function readInputFile(path: string, readFile: ReadFile, maxBytes = MAX_PROOF_FILE_BYTES): Promise<Uint8Array> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    throw new CliError(`cannot read ${path}: ${code}`, 1);
  }
  if (buf.length > maxBytes) throw new CliError(`${path} is ${buf.length} bytes; a proof file is at most ${maxBytes}`, 1);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}
