/**
 * What the benches ask a running calendar node over HTTP: its status JSON,
 * and "poll until": a condition on the status, or the first 200 for a path.
 */
import {Agent} from "node:http";
import {get} from "./_load.ts";

export type StatusJson = {
  address?: string | null;
  in_flight?: Array<{first_height: number; versions: Array<{txid: string; commitments: number; height: number}>}>;
  waiting?: Array<{txid: string; height: number; confirmations: number; commitments: number}>;
  pending_commitments?: number;
  stamper_problems?: Array<{kind: string; message: string; red: boolean}>;
  [k: string]: unknown;
};

export async function status(url: string): Promise<StatusJson> {
  const r = await fetch(`${url}/`, {headers: {Accept: "application/json"}});
  if (r.status !== 200) throw new Error(`status page ${r.status}`);
  return (await r.json()) as StatusJson;
}

/** Poll the status every `everyMs` until `ok(status)`; resolves with it. */
export async function statusUntil(url: string, ok: (s: StatusJson) => boolean, everyMs = 20, timeoutMs = 600_000): Promise<StatusJson> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const s = await status(url);
    if (ok(s)) return s;
    if (performance.now() > until) throw new Error(`status condition not met in ${timeoutMs} ms: ${JSON.stringify(s).slice(0, 600)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * GET `path` every `everyMs` (one request at a time, keep-alive) until it
 * answers 200; resolves with the bench clock (performance.now()) when that
 * reply ended, its size and the number of tries.
 */
export async function firstOk(url: string, path: string, everyMs = 10, timeoutMs = 600_000): Promise<{at: number; bytes: number; tries: number; lastStatus: number}> {
  const agent = new Agent({keepAlive: true, maxSockets: 1});
  const base = new URL(url);
  const until = performance.now() + timeoutMs;
  let tries = 0;
  try {
    for (;;) {
      tries++;
      const r = await get(agent, base, path);
      if (r.status === 200) return {at: performance.now(), bytes: r.bytes, tries, lastStatus: r.status};
      if (performance.now() > until) throw new Error(`${path}: still ${r.status} after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, everyMs));
    }
  } finally {
    agent.destroy();
  }
}
