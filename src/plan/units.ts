/**
 * Parsing of the sizes people write in budgets and flags: `512MB`, `0.5GiB`, `2 MiB`, `+5%`, `16KiB/iter`.
 * Units are binary as tracemalloc prints them (`KiB`, `MiB`, `GiB`, and the short `K`, `M`, `G`); `kB`, `MB`, `GB`
 * are decimal (1000-based), as their SI names say.
 */

/** Nothing memdelta measures is near this; a larger value is a typo (or `1e309`). */
export const MAX_SIZE = 2 ** 50; // 1 PiB

const UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

/** Raised for a value that is not a size; the message quotes it and says what would be accepted. */
export class UnitError extends Error {
  override readonly name = 'UnitError';
}

const NUMBER = String.raw`(\d+(?:\.\d+)?|\.\d+)`;
const SIZE_RE = new RegExp(`^${NUMBER}\\s*([a-z]*)$`, 'i');

function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? s.slice(0, 57) + '...' : s);
}

/**
 * Parses an absolute size such as `512MB`, `0.5GiB`, `2 MiB` or `4096` (bytes) into whole bytes.
 * @throws UnitError for empty, negative, non-finite, unknown-unit or absurd values
 */
export function parseSize(input: string): number {
  const s = input.trim();
  const m = SIZE_RE.exec(s);
  if (!m) throw new UnitError(`${quote(input)} is not a size (examples: 4096, 512KiB, 2MiB, 0.5GiB, 100MB)`);
  const unitName = (m[2] ?? '').toLowerCase();
  const unit = unitName === '' ? 1 : UNITS[unitName];
  if (unit === undefined) {
    throw new UnitError(
      `${quote(input)} has an unknown unit ${quote(m[2] ?? '')} (use B, KiB, MiB, GiB, or kB, MB, GB)`,
    );
  }
  const value = Number(m[1]) * unit;
  if (!Number.isFinite(value)) throw new UnitError(`${quote(input)} is not a finite size`);
  if (value > MAX_SIZE) throw new UnitError(`${quote(input)} is larger than 1 PiB; is it a typo?`);
  return Math.round(value);
}

/** A growth: a fraction of base (`+5%` → relative 0.05) or bytes (`+2MiB`). */
export type Growth = { kind: 'relative'; value: number } | { kind: 'bytes'; value: number };

/**
 * Parses a growth written with a leading `+`: `+5%`, `+0.5 %`, `+2MiB`.
 * @throws UnitError when the `+` is missing, the number is bad or the percentage is absurd
 */
export function parseGrowth(input: string): Growth {
  const s = input.trim();
  if (!s.startsWith('+')) {
    throw new UnitError(`${quote(input)} is not a growth: write it with a sign, like "+5%" or "+2MiB"`);
  }
  const body = s.slice(1).trim();
  const pct = new RegExp(`^${NUMBER}\\s*%$`).exec(body);
  if (pct) {
    const value = Number(pct[1]);
    if (!Number.isFinite(value) || value > 1e6)
      throw new UnitError(`${quote(input)} is not a sensible percentage`);
    return { kind: 'relative', value: value / 100 };
  }
  if (body.includes('%')) throw new UnitError(`${quote(input)} is not a percentage (example: "+5%")`);
  return { kind: 'bytes', value: parseSize(body) };
}

/**
 * Parses a per-iteration size: `16KiB/iter` (also `/iteration`, `/call`).
 * @throws UnitError when the suffix is missing or the size is bad
 */
export function parsePerIteration(input: string): number {
  const m = /^(.*?)\s*\/\s*(iter|iteration|call)$/i.exec(input.trim());
  if (!m) throw new UnitError(`${quote(input)} is not a size per iteration (example: "16KiB/iter")`);
  return parseSize(m[1] ?? '');
}

/** Parses a noise floor percentage such as `0.5%` (no sign) into a percentage number (0.5). */
export function parsePercent(input: string): number {
  const m = new RegExp(`^${NUMBER}\\s*%$`).exec(input.trim());
  if (!m) throw new UnitError(`${quote(input)} is not a percentage (example: "0.5%")`);
  const v = Number(m[1]);
  if (!Number.isFinite(v) || v > 100) throw new UnitError(`${quote(input)} must be between 0% and 100%`);
  return v;
}
