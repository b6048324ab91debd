import {suite} from "uvu";
import * as assert from "uvu/assert";
import {readdirSync, readFileSync, statSync} from "node:fs";
import {join, relative} from "node:path";
import {fileURLToPath} from "node:url";

/**
 * protocol/ is pure and deterministic (DESIGN.md, STYLE.md §1): no I/O, no
 * clock, no randomness, no logging, nothing of ours from outside protocol/,
 * and runtime dependencies limited to hashing. This is the lint rule.
 */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PROTOCOL = join(ROOT, "protocol");
const ALLOWED_PACKAGES = [/^@noble\/hashes\//];

const FORBIDDEN: Array<[RegExp, string]> = [
  [/\bDate\.now\b|\bnew Date\b|\bperformance\.now\b/, "reads the clock"],
  [/\bMath\.random\b|\bcrypto\.getRandomValues\b|\brandomBytes\b/, "uses randomness"],
  [/\bconsole\./, "logs"],
  [/\bfetch\s*\(/, "does I/O"],
  [/\bprocess\./, "reads the process"],
  [/\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b/, "schedules work"],
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

// ---

const purity = suite("protocol :: purity lint");

purity("should import only protocol/ files and hashing packages :: imports", () => {
  const list = files(PROTOCOL);
  assert.ok(list.length > 5);
  for (const f of list) {
    const src = readFileSync(f, "utf8");
    for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
      const spec = (m[1] ?? m[2]) as string;
      const rel = relative(ROOT, f);
      if (spec.startsWith(".")) {
        const target = relative(PROTOCOL, join(f, "..", spec));
        assert.ok(!target.startsWith(".."), `${rel} imports ${spec}, outside protocol/`);
      } else {
        assert.ok(ALLOWED_PACKAGES.some((p) => p.test(spec)), `${rel} imports the package ${spec}`);
      }
    }
  }
});

purity("should not touch the clock, randomness, console or I/O :: globals", () => {
  for (const f of files(PROTOCOL)) {
    // Comments may mention these words; code may not.
    const code = readFileSync(f, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    for (const [re, what] of FORBIDDEN) assert.not.match(code, re, `${relative(ROOT, f)} ${what}`);
  }
});

purity.run();
