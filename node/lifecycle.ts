/**
 * The one lifecycle every long-lived part of a node follows (STYLE §9):
 * `start()` and `stop()` are idempotent, serialized and restartable, each
 * run owns a fresh AbortSignal that `stop()` aborts before waiting for the
 * part to wind down, and `status` says where it is. The composition root
 * starts parts in dependency order and stops them in reverse.
 *
 * Also the one interruptible wait (`sleep`) and periodic loop (`runEvery`)
 * that polling parts (stamper, funding watch, chain view) share.
 */

export type LifecycleStatus = "stopped" | "starting" | "started" | "stopping";

/** A long-lived part of the node. */
export interface Service {
  readonly status: LifecycleStatus;
  /** Start; resolves once running (with what the part reports, if anything). Calling it while started (or starting) is a no-op. */
  start(): Promise<unknown>;
  /** Stop; resolves once everything it started has ended. Calling it while stopped is a no-op. */
  stop(): Promise<void>;
}

/**
 * Base class implementing {@link Service}: subclasses write `onStart(signal)`
 * and `onStop()`; the guard, the serialization of concurrent calls and the
 * per-run AbortController live here once. `Started` is what `start()`
 * resolves with (where a server listens, say); nothing by default.
 */
export abstract class Lifecycle<Started = void> implements Service {
  private state: LifecycleStatus = "stopped";
  private started: Started | undefined;
  private controller: AbortController | null = null;
  /** start/stop calls run one after another, never interleaved. */
  private transition: Promise<void> = Promise.resolve();

  get status(): LifecycleStatus {
    return this.state;
  }

  /** The current run's signal (aborted once `stop()` begins); an aborted one while stopped. */
  protected get signal(): AbortSignal {
    return this.controller?.signal ?? AbortSignal.abort();
  }

  start(): Promise<Started> {
    return this.serialize(async () => {
      if (this.state === "started") return this.started as Started;
      this.state = "starting";
      const controller = new AbortController();
      this.controller = controller;
      try {
        this.started = await this.onStart(controller.signal);
      } catch (e) {
        controller.abort();
        this.controller = null;
        this.state = "stopped";
        throw e;
      }
      this.state = "started";
      return this.started;
    });
  }

  stop(): Promise<void> {
    return this.serialize<void>(async () => {
      if (this.state === "stopped") return;
      this.state = "stopping";
      this.controller?.abort();
      try {
        await this.onStop();
      } finally {
        this.controller = null;
        this.state = "stopped";
      }
    });
  }

  /** Begin running: open, listen, spawn loops that watch `signal`. */
  protected abstract onStart(signal: AbortSignal): Promise<Started>;
  /** Wind down (the run's signal is already aborted) and wait for every loop and call it began. */
  protected abstract onStop(): Promise<void>;

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.transition.then(fn);
    this.transition = run.then(
      () => {},
      () => {},
    );
    return run;
  }
}

/** Resolve after `ms`, or as soon as `signal` aborts; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, {once: true});
  });
}

/** Cuts the current wait of a {@link runEvery} loop short (tests, and the devnet after mining). */
export class Waker {
  private pending: (() => void) | null = null;

  /** End the wait in progress, if any; the loop ticks at once. */
  wake(): void {
    this.pending?.();
  }

  /** Wait `ms`, until `signal` aborts, or until `wake()`. */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    const inner = new AbortController();
    this.pending = () => inner.abort();
    return sleep(ms, AbortSignal.any([signal, inner.signal])).finally(() => {
      this.pending = null;
    });
  }
}

/**
 * Run `tick` now, then again `intervalMs` after each one ends, until
 * `signal` aborts. `tick` handles its own errors (a loop that dies on the
 * first failure would silently stop the part); one that escapes is reported
 * to `onError` and the loop goes on.
 */
export async function runEvery(intervalMs: number, signal: AbortSignal, tick: (signal: AbortSignal) => Promise<void>, opts: {waker?: Waker; onError?: (e: unknown) => void} = {}): Promise<void> {
  while (!signal.aborted) {
    try {
      await tick(signal);
    } catch (e) {
      if (!signal.aborted) opts.onError?.(e);
    }
    if (signal.aborted) break;
    await (opts.waker ? opts.waker.wait(intervalMs, signal) : sleep(intervalMs, signal));
  }
}
