/**
 * Side-by-side timing: variants run in one process, in alternating order each repetition (A B, B A, ...), so a
 * slow minute on a shared machine hits every variant alike; the result is the median of each variant.
 */

/** One thing to time; `run` resolves when the work is done. */
export interface Variant {
  name: string;
  run: () => unknown;
}

/** Median and spread of one variant's repetitions, in milliseconds. */
export interface Timing {
  name: string;
  median: number;
  min: number;
  max: number;
  samples: number[];
}

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Times each variant `reps` times, rotating the order every repetition, after `warmup` untimed rounds.
 * @returns one timing per variant, in the order given
 */
export async function timeAlternating(
  variants: readonly Variant[],
  reps: number,
  warmup = 1,
): Promise<Timing[]> {
  const samples = variants.map(() => [] as number[]);
  for (let rep = -warmup; rep < reps; rep++) {
    const order = variants.map((_, i) => i);
    if (rep % 2 !== 0) order.reverse();
    for (const i of order) {
      collect();
      const t0 = performance.now();
      await (variants[i] as Variant).run();
      const ms = performance.now() - t0;
      if (rep >= 0) (samples[i] as number[]).push(ms);
    }
  }
  return variants.map((v, i) => {
    const s = samples[i] as number[];
    return { name: v.name, median: median(s), min: Math.min(...s), max: Math.max(...s), samples: s };
  });
}

/** `12.3 ms` / `1.23 s`. */
export function ms(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(2)} s` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`;
}

/** A line per timing: median and range. */
export function describe(t: Timing): string {
  return `${t.name.padEnd(44)} median ${ms(t.median).padStart(9)}  (min ${ms(t.min)}, max ${ms(t.max)}, n=${t.samples.length})`;
}

/** Whether a measured ratio meets a "≤ target" goal, as words. */
export function verdict(ratio: number, target: number): string {
  return `${ratio.toFixed(2)} (target ≤ ${target}: ${ratio <= target ? 'met' : 'NOT met'})`;
}
