/**
 * A server in its own child process, so that its CPU and memory are its own
 * (peak RSS is the kernel's high-water mark, VmHWM) and the load generator
 * does not share its event loop. Its stdout is read as JSON lines (the
 * calendar node's pino log); each line is kept with the bench clock
 * (performance.now()) at which it arrived, and can be waited for.
 */
import {spawn} from "node:child_process";
import type {ChildProcess} from "node:child_process";
import {readFileSync} from "node:fs";
import {fileURLToPath} from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const OTSFED = `${ROOT}node/cli/otsfed.ts`;

export type LogLine = {at: number; time: number; msg: string; obj: Record<string, unknown>};

export class ChildServer {
  readonly proc: ChildProcess;
  readonly spawnedAt: number;
  readonly lines: LogLine[] = [];
  /** What it wrote to stderr (echoed to ours as well). */
  stderr = "";
  readonly exited: Promise<number | null>;
  private waiters: Array<{match: (l: LogLine) => boolean; resolve: (l: LogLine) => void}> = [];
  private exitCode: number | null | undefined = undefined;

  constructor(args: string[]) {
    this.spawnedAt = performance.now();
    this.proc = spawn(process.execPath, args, {cwd: ROOT, stdio: ["ignore", "pipe", "pipe"]});
    this.proc.stderr?.on("data", (d: Buffer) => {
      process.stderr.write(d);
      if (this.stderr.length < 64 * 1024) this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) =>
      // "close", not "exit": stdout and stderr are fully read by then.
      this.proc.on("close", (code) => {
        this.exitCode = code;
        resolve(code);
      }),
    );
    let buf = "";
    this.proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.onLine(text);
      }
    });
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  private onLine(text: string): void {
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const line: LogLine = {at: performance.now(), time: typeof obj.time === "number" ? obj.time : Date.now(), msg: typeof obj.msg === "string" ? obj.msg : "", obj};
    this.lines.push(line);
    if (typeof obj.level === "number" && obj.level >= 50) console.log(`  [node ${obj.level >= 60 ? "FATAL" : "ERROR"}] ${text.slice(0, 400)}`);
    const still = [];
    for (const w of this.waiters) {
      if (w.match(line)) w.resolve(line);
      else still.push(w);
    }
    this.waiters = still;
  }

  /** The first line (already seen or still to come) whose msg is `msg`, or matching `match`. */
  waitFor(msg: string | ((l: LogLine) => boolean), timeoutMs = 600_000): Promise<LogLine> {
    const match = typeof msg === "string" ? (l: LogLine) => l.msg === msg : msg;
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for log line ${String(msg)}`)), timeoutMs);
      const done = (l: LogLine): void => {
        clearTimeout(t);
        resolve(l);
      };
      this.waiters.push({match, resolve: done});
      void this.exited.then((code) => {
        clearTimeout(t);
        reject(new Error(`server exited with ${code} before log line ${String(msg)}${this.stderr ? `: ${this.stderr.trim().split("\n").at(-1)}` : ""}`));
      });
    });
  }

  /** Current and peak resident set size, MB (0 once gone). */
  memory(): {rssMb: number; peakMb: number} {
    try {
      const s = readFileSync(`/proc/${this.pid}/status`, "utf8");
      const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0);
      return {rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024};
    } catch {
      return {rssMb: 0, peakMb: 0};
    }
  }

  /** CPU time used so far (user + system), seconds; 0 once gone. Linux counts it in USER_HZ = 100 ticks/s. */
  cpuSeconds(): number {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
      // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      return 0;
    }
  }

  /** SIGTERM (a graceful stop) and wait for the exit. */
  async stop(): Promise<number | null> {
    if (this.exitCode === undefined) this.proc.kill("SIGTERM");
    return this.exited;
  }
}

/**
 * A calendar node (`otsfed node ARGS`) in a child process, node itself run
 * with `nodeFlags` (e.g. --cpu-prof); resolves once it listens, with its URL.
 */
export async function startCalendarNode(args: string[], nodeFlags: string[] = []): Promise<{server: ChildServer; url: string; startedAt: number}> {
  const server = new ChildServer([...nodeFlags, OTSFED, "node", ...args]);
  const started = await server.waitFor("calendar node started");
  return {server, url: started.obj.url as string, startedAt: started.at};
}
