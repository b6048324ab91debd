/**
 * Every async test runs under a time limit: a hung socket or a promise that
 * never settles must fail the test, not stall the suite.
 */
export function withTimeout<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): () => Promise<T> {
  return async () => {
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort(new Error(`test timed out after ${ms} ms`));
        reject(new Error(`test timed out after ${ms} ms`));
      }, ms);
    });
    try {
      return await Promise.race([fn(ac.signal), limit]);
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
  };
}
