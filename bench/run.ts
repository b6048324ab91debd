/**
 * `npm run bench -- NAME [ARGS…]`: runs `bench/NAME.ts`, whose exported
 * `main(args)` prints readable figures as it goes and returns them; the
 * figures are then printed as the final line, one JSON object, for scripts.
 * Benchmarks measure; they never pass or fail on a figure.
 */
import {readdirSync} from "node:fs";
import {fileURLToPath} from "node:url";

export type Figures = Record<string, number | string>;
type Bench = {main(args: string[]): Promise<Figures>};

const dir = fileURLToPath(new URL(".", import.meta.url));
const available = readdirSync(dir).filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.startsWith("_")).map((f) => f.slice(0, -3)).sort();
const [name, ...args] = process.argv.slice(2);

if (name === undefined || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME [ARGS…]\nbenchmarks: ${available.join(", ")}`);
  process.exitCode = 2;
} else {
  const bench = (await import(`./${name}.ts`)) as Bench;
  const figures = await bench.main(args);
  console.log(JSON.stringify({bench: name, node: process.version, ...figures}));
}
