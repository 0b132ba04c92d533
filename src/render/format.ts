/**
 * Numbers for people: binary sizes as tracemalloc prints them (B, KiB, MiB, GiB, TiB), signed deltas, percentages
 * that never divide by zero, and counts with thousands separators.
 */

/** The minus sign used for negative values (U+2212), which lines up with `+` in proportional fonts. */
export const MINUS = '\u2212';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

function scaled(abs: number): string {
  if (abs < 1024) return `${Math.round(abs)} B`;
  let unit = 0;
  let value = abs;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  // One decimal below 100 units, none above; re-check the unit after rounding (1023.96 KiB is 1 MiB).
  let text = value < 100 ? value.toFixed(1) : value.toFixed(0);
  if (Number(text) >= 1024 && unit < UNITS.length - 1) {
    unit += 1;
    value /= 1024;
    text = value.toFixed(1);
  }
  return `${text.replace(/\.0$/u, '')} ${UNITS[unit]}`;
}

/** An unsigned size: `0 B`, `1023 B`, `1 KiB`, `1.5 GiB`, `512 MiB`. Negative input gets a minus sign. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?';
  return bytes < 0 ? `${MINUS}${scaled(-bytes)}` : scaled(bytes);
}

/** A signed size change: `+1.2 MiB`, `−512 B`, and `±0` for no change. */
export function formatDelta(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?';
  if (bytes === 0) return '±0';
  return bytes > 0 ? `+${scaled(bytes)}` : `${MINUS}${scaled(-bytes)}`;
}

function percentNumber(abs: number): string {
  if (abs < 0.1) return '<0.1';
  if (abs < 10) return abs.toFixed(1).replace(/\.0$/u, '');
  return abs.toFixed(0);
}

/**
 * The relative change from `base` to `head`: `+31 %`, `−4.5 %`, `±0 %` when both are equal, `new` when base is 0
 * and head is not (no division by zero), `−100 %` when head is 0.
 */
export function formatPercent(base: number, head: number): string {
  if (base === head) return '±0 %';
  if (base === 0) return 'new';
  const p = ((head - base) / Math.abs(base)) * 100;
  return `${p > 0 ? '+' : MINUS}${percentNumber(Math.abs(p))} %`;
}

/** A signed percentage given directly (e.g. a budget of 5 → `+5 %`). */
export function formatSignedPercent(p: number): string {
  if (p === 0) return '±0 %';
  return `${p > 0 ? '+' : MINUS}${percentNumber(Math.abs(p))} %`;
}

/** A count with spaces as thousands separators: `2 000`, `−1 234 567`. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const abs = Math.round(Math.abs(n))
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/gu, ' ');
  return n < 0 ? `${MINUS}${abs}` : abs;
}

/** A signed count change: `+2 000`, `−3`, `±0`. */
export function formatCountDelta(n: number): string {
  if (n === 0) return '±0';
  return n > 0 ? `+${formatCount(n)}` : formatCount(n);
}

/** `base → head (Δ, %)`, e.g. `38.2 MiB → 50.6 MiB (+12.4 MiB, +32 %)`; just `38.2 MiB (±0)` when unchanged. */
export function formatChange(base: number, head: number, withPercent = true): string {
  if (base === head) return `${formatBytes(head)} (±0)`;
  const delta = formatDelta(head - base);
  const pct = withPercent ? `, ${formatPercent(base, head)}` : '';
  return `${formatBytes(base)} → ${formatBytes(head)} (${delta}${pct})`;
}

/** The short form of a commit SHA (7 characters). */
export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}
