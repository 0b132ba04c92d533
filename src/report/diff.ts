/**
 * Diffing two probe reports of one scenario: totals and per-site deltas with a status, sorted by impact.
 * A change at or below the noise floor is "same": tracemalloc is deterministic in bytes, but hashing and address
 * layout still move a few hundred bytes between runs, and a reviewer must never be shown that as a regression.
 */
import type { NoiseFloor } from '../plan/types.js';
import { matchSites } from './match.js';
import type { ProbeReport, ProbeSite, SiteDiff, SiteStatus, Triple } from './types.js';
import { isBeyondNoise } from './verdict.js';

/** Per-site and total differences of one scenario. */
export interface ScenarioDiff {
  /** Every matched site: changed, new and removed first (by impact), then unchanged ones (by size). */
  sites: SiteDiff[];
  /** How many sites are unchanged within the noise floor. */
  sameSites: number;
}

function triple(base: number, head: number): Triple {
  return { base, head, delta: head - base };
}

function optionalTriple(
  base: number | null | undefined,
  head: number | null | undefined,
): Triple | undefined {
  if ((base === null || base === undefined) && (head === null || head === undefined)) return undefined;
  return triple(base ?? 0, head ?? 0);
}

/**
 * How much a site's change matters: the largest of its peak, retained and leak deltas. A leak is weighed per
 * iteration times the iterations measured, so a small steady leak ranks with the total it piles up.
 */
export function siteImpact(s: SiteDiff, iterations = 1): number {
  return Math.max(
    Math.abs(s.peak.delta),
    Math.abs(s.retained.delta),
    s.leak ? Math.abs(s.leak.delta) * Math.max(1, iterations) : 0,
  );
}

function statusOf(
  base: ProbeSite | undefined,
  head: ProbeSite | undefined,
  d: Pick<SiteDiff, 'peak' | 'retained' | 'leak'>,
  floor: NoiseFloor,
): SiteStatus {
  const moved =
    isBeyondNoise(d.peak.base, d.peak.head, floor) ||
    isBeyondNoise(d.retained.base, d.retained.head, floor) ||
    (d.leak !== undefined && isBeyondNoise(d.leak.base, d.leak.head, floor));
  if (!moved) return 'same';
  if (!base) return 'new';
  if (!head) return 'removed';
  return 'changed';
}

/**
 * Diffs the sites of base and head. `base` may be null (no baseline): every head site is then "new".
 * Both reports must have been validated ({@link parseProbeReport}).
 */
export function diffSites(
  base: ProbeReport | null,
  head: ProbeReport | null,
  floor: NoiseFloor,
): ScenarioDiff {
  const pairs = matchSites(base?.sites ?? [], head?.sites ?? []);
  const iterations = head?.settings.iterations ?? base?.settings.iterations ?? 1;
  const changed: SiteDiff[] = [];
  const same: SiteDiff[] = [];
  for (const { base: b, head: h } of pairs) {
    const shown = (h ?? b) as ProbeSite;
    const numbers = {
      peak: triple(b?.peak ?? 0, h?.peak ?? 0),
      retained: triple(b?.retained ?? 0, h?.retained ?? 0),
      leak: optionalTriple(b?.leak, h?.leak),
    };
    const site: SiteDiff = {
      file: shown.file,
      function: shown.function,
      line: shown.line,
      code: shown.code,
      ...(shown.via ? { via: shown.via } : {}),
      status: statusOf(b, h, numbers, floor),
      peak: numbers.peak,
      retained: numbers.retained,
      ...(numbers.leak ? { leak: numbers.leak } : {}),
    };
    (site.status === 'same' ? same : changed).push(site);
  }
  changed.sort((x, y) => siteImpact(y, iterations) - siteImpact(x, iterations) || order(x, y));
  same.sort(
    (x, y) => Math.max(y.peak.head, y.retained.head) - Math.max(x.peak.head, x.retained.head) || order(x, y),
  );
  return { sites: [...changed, ...same], sameSites: same.length };
}

/** A stable tie-break, so equal reports always render in the same order. */
function order(x: SiteDiff, y: SiteDiff): number {
  return x.file < y.file
    ? -1
    : x.file > y.file
      ? 1
      : x.line - y.line || (x.code < y.code ? -1 : x.code > y.code ? 1 : 0);
}

/**
 * Whether a site path is the project's own code (repo-relative), as opposed to an installed package
 * (`site-packages/...`), the standard library (`<stdlib>/...`) or a bucket such as `<imports>`.
 */
export function isProjectFile(file: string): boolean {
  return !file.startsWith('<') && !file.startsWith('site-packages/');
}
