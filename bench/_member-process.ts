/** A federation member in its own process (bench/_member.ts), driven over IPC. */
import {fork} from "node:child_process";
import type {ChildProcess} from "node:child_process";
import {fileURLToPath} from "node:url";

const MEMBER = fileURLToPath(new URL("./_member.ts", import.meta.url));

export type Reply = {type: string; [k: string]: unknown};

export class Member {
  readonly proc: ChildProcess;
  private waiting: Array<{type: string; resolve: (r: Reply) => void}> = [];

  constructor() {
    // "advanced" serialization: node options hold bigints (fee limits).
    this.proc = fork(MEMBER, [], {execPath: process.execPath, execArgv: process.env["MEMBER_PROF"] ? ["--cpu-prof", `--cpu-prof-dir=${process.env["MEMBER_PROF"]}`] : [], stdio: ["ignore", "inherit", "inherit", "ipc"], serialization: "advanced"});
    this.proc.on("message", (r: Reply) => {
      const i = this.waiting.findIndex((w) => w.type === r.type);
      if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(r);
    });
  }

  /** Send `msg`; resolves with the next reply of type `reply`. */
  ask(msg: object, reply: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`member exited with ${code}`));
      this.proc.once("exit", onExit);
      this.waiting.push({
        type: reply,
        resolve: (r) => {
          this.proc.off("exit", onExit);
          resolve(r);
        },
      });
      this.proc.send(msg);
    });
  }
}
