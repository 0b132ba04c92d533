/** Small concurrency helpers of the compare engine. */

/** A FIFO limit of `n` concurrent tasks. */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    else active++;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/** Runs `a` and `b` side by side, or one after the other when `sequential`. */
export async function both<T>(
  sequential: boolean | undefined,
  a: () => Promise<T>,
  b: () => Promise<T>,
): Promise<[T, T]> {
  if (sequential) {
    const x = await a();
    return [x, await b()];
  }
  return Promise.all([a(), b()]);
}
