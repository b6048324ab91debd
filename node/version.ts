/** The otsfed version every daemon reports (status pages, User-Agent): package.json's. */
import {readFile} from "node:fs/promises";

/** package.json's `version`, or "unknown" when it cannot be read. */
export async function readVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as {version?: unknown};
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}
