/**
 * The anchoring engine alone, with no calendar: a client that anchors fixed
 * 32-byte roots described by small JSON objects, the simulated chain in
 * process (SimulatedBackend passed directly), a frozen test clock, and ticks
 * driven by `poke` (the poll interval is an hour, so nothing runs unasked).
 */
import {setImmediate as nextMacrotask} from "node:timers/promises";
import {join} from "node:path";
import type {AnchorClient, AnchorConfirmation, AnchorContent, AnchorKept, AnchorPhase, AnchorProblem} from "../../../node/anchor/client.ts";
import {AnchorEngine} from "../../../node/anchor/engine.ts";
import {defaultFeeScheduleOptions} from "../../../node/anchor/fee-schedule.ts";
import type {AnchorOptions} from "../../../node/anchor/options.ts";
import type {AnchorCycle, DescriptionCodec} from "../../../node/anchor/state-file.ts";
import {fundingKeyOf} from "../../../node/bitcoin/funding-key.ts";
import type {FundingKey} from "../../../node/bitcoin/funding-key.ts";
import {keyPairFromSeed} from "../../../node/bitcoin/signing.ts";
import {nullLogger} from "../../../node/logger.ts";
import {simulatedChain} from "./support.ts";
import type {SimulatedSetup} from "./support.ts";

/** What the test client says a root commits to. */
export type Label = {label: string; version: number};

export const labelCodec: DescriptionCodec<Label> = {
  encode: (d) => ({label: d.label, version: d.version}),
  decode(json, at) {
    const o = json as Partial<Label> | null;
    if (typeof o !== "object" || o === null || typeof o.label !== "string" || typeof o.version !== "number") return {ok: false, reason: `${at} is not a label`};
    return {ok: true, value: {label: o.label, version: o.version}};
  },
};

/**
 * Anchors `root` until it is confirmed: a new cycle when none carries it,
 * replacements that keep the root and count versions in the description.
 */
export class FixedRootClient implements AnchorClient<Label> {
  readonly root: Uint8Array;
  readonly confirmations: AnchorConfirmation<Label>[] = [];
  readonly kepts: AnchorKept<Label>[] = [];
  readonly problems: AnchorProblem[] = [];
  readonly droppedCycles: number[] = [];
  nextCalls = 0;
  /** Runs inside `confirmed`, before it resolves (e.g. to watch the recorded transaction). */
  onConfirmed: ((c: AnchorConfirmation<Label>) => void) | null = null;
  private tickWaiters: Array<() => void> = [];

  constructor(root: Uint8Array) {
    this.root = root;
  }

  hasWork(inFlight: readonly AnchorCycle<Label>[]): boolean {
    return this.confirmations.length === 0 && inFlight.length === 0;
  }

  async next(replacing: AnchorCycle<Label> | null): Promise<AnchorContent<Label> | null> {
    this.nextCalls++;
    return {root: this.root, description: {label: "fixed root", version: replacing ? replacing.versions.length + 1 : 1}};
  }

  async confirmed(c: AnchorConfirmation<Label>): Promise<void> {
    this.confirmations.push(c);
    this.onConfirmed?.(c);
  }

  kept(e: AnchorKept<Label>): void {
    this.kepts.push(e);
  }

  dropped(cycle: AnchorCycle<Label>): void {
    this.droppedCycles.push(cycle.id);
  }

  problem(p: AnchorProblem): void {
    this.problems.push(p);
  }

  ticked(): void {
    const waiters = this.tickWaiters;
    this.tickWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when the tick in progress (or the next one) ends. */
  nextTickEnd(): Promise<void> {
    return new Promise((resolve) => this.tickWaiters.push(resolve));
  }
}

export const K = 3;

export const anchorOptions: AnchorOptions = {intervalMs: 0, confirmations: K, confTarget: 2, fallbackFeeRate: 2, fee: {...defaultFeeScheduleOptions}, pollIntervalMs: 3_600_000};

export type EngineRig = SimulatedSetup & {
  key: FundingKey;
  stateDir: string;
  client: FixedRootClient;
  engine: AnchorEngine<Label>;
  phases: AnchorPhase[];
  /** A new engine (and client) on the same chain and state dir, as after a restart; not started. */
  reopen(onPhase?: (p: AnchorPhase) => void): EngineRig;
  /** One tick after everything the test did: wake the loop, wait for the tick's end. */
  tick(): Promise<void>;
};

/** A fresh simulated chain, a key funded with one confirmed coin, and an engine over `dataDir`, not started. */
export async function engineRig(dataDir: string, root: Uint8Array, signal: AbortSignal, onPhase?: (p: AnchorPhase) => void): Promise<EngineRig> {
  const sim = simulatedChain();
  const key = fundingKeyOf(keyPairFromSeed("anchor tests key"), "regtest");
  // What FundingWatch does in a node: the watch-only wallet lists the key's coins.
  await sim.backend.importWatchDescriptors([key.descriptor], signal);
  sim.wallet.fund(key.script, [1_000_000n]);
  return build(sim, key, join(dataDir, "anchor"), root, onPhase);
}

function build(sim: SimulatedSetup, key: FundingKey, stateDir: string, root: Uint8Array, onPhase?: (p: AnchorPhase) => void): EngineRig {
  const client = new FixedRootClient(root);
  const phases: AnchorPhase[] = [];
  const engine = new AnchorEngine(anchorOptions, {
    backend: sim.backend,
    fundingKey: () => key,
    client,
    descriptionCodec: labelCodec,
    stateDir,
    logger: nullLogger,
    clock: sim.clock,
    onPhase: (p) => {
      phases.push(p);
      onPhase?.(p);
    },
  });
  const rig: EngineRig = {
    ...sim,
    key,
    stateDir,
    client,
    engine,
    phases,
    reopen: (again) => build(sim, key, stateDir, root, again),
    async tick() {
      // The loop waits (the tick before ended and a macrotask passed), so the wake starts a tick at once.
      const ended = client.nextTickEnd();
      engine.poke();
      await ended;
      await nextMacrotask();
    },
  };
  return rig;
}

/** Start the engine and wait for its first tick to end. */
export async function startRig(r: EngineRig): Promise<void> {
  const ended = r.client.nextTickEnd();
  await r.engine.start();
  await ended;
  await nextMacrotask();
}
