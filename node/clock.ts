/** The wall clock, injected so tests can control time (STYLE §10). */
export type Clock = {
  /** Milliseconds since the Unix epoch. */
  now(): number;
};

export const systemClock: Clock = {now: () => Date.now()};
