/**
 * What the markdown and terminal renderers share: each scenario's outcome, the worst change in words, which sites
 * to list and the gc findings. Text here is built through a `Name` callback so each output escapes untrusted
 * names its own way (code spans in markdown, cleaned plain text in a terminal).
 */
import type { BudgetResult, ScenarioResult, SiteDiff, Verdict } from '../report/types.js';
import { formatBytes, formatCount, formatCountDelta, formatDelta, formatPercent, MINUS } from './format.js';

/** Formats an untrusted name for the output at hand (e.g. as a code span). */
export type Name = (text: string) => string;

/** The default label that accepts an intended increase. */
export const DEFAULT_ACCEPT_LABEL = 'memdelta: accept increase';

/** A scenario's own outcome, derived from its status and budget results. */
export function scenarioOutcome(s: ScenarioResult): Verdict {
  if (s.status === 'error') return 'error';
  const broken = s.budget.filter((b) => !b.ok);
  if (broken.some((b) => b.level === 'fail')) return 'fail';
  return broken.length > 0 ? 'warn' : 'pass';
}

/** How a budget rule reads: the metric (`peak`, `retained-max`, ...) and its limit as written. */
export function parseRule(rule: string): { metric: string; limit: string } {
  const m = /^\s*([a-z-]+)\s*:\s*(.*)$/iu.exec(rule);
  return m ? { metric: (m[1] ?? '').toLowerCase(), limit: (m[2] ?? '').trim() } : { metric: '', limit: rule };
}

/** A limit as written if it is a plain number with a unit (`+5%` → `+5 %`), else undefined. */
export function plainLimit(limit: string): string | undefined {
  const m = /^([+-]?)(\d+(?:\.\d+)?)\s*(%|B|[KMGT]i?B|[kMGT]B)?(\s*\/\s*iter(?:ation)?)?$/u.exec(limit);
  if (!m) return undefined;
  const sign = m[1] === '-' ? MINUS : (m[1] ?? '');
  const unit = m[3] ? ` ${m[3]}` : '';
  return `${sign}${m[2]}${unit}${m[4] ? '/iter' : ''}`;
}

function metricOf(b: BudgetResult): 'peak' | 'retained' | 'leak' {
  const { metric } = parseRule(b.rule);
  if (metric.startsWith('retained')) return 'retained';
  if (metric.startsWith('leak')) return 'leak';
  return 'peak';
}

function isCeiling(b: BudgetResult): boolean {
  return parseRule(b.rule).metric.endsWith('-max');
}

/** How far over its limit a broken rule is, for ranking (1 = at the limit). */
function severity(b: BudgetResult): number {
  if (b.limit <= 0) return b.actual > 0 ? Number.MAX_SAFE_INTEGER : 1;
  return b.actual / b.limit;
}

/** The limit of a budget in words: `+5 %` / `512 MiB` as written when plain, else from its bytes. */
export function limitWords(b: BudgetResult, name: Name): string {
  const { limit } = parseRule(b.rule);
  const plain = plainLimit(limit);
  if (plain) return plain;
  if (limit.length > 0) return name(limit);
  return isCeiling(b) ? formatBytes(b.limit) : formatDelta(b.limit);
}

/** One metric's change in words: `peak +12.4 MiB (+31 %)`, `leak +20 KiB/iter`, `peak 600 MiB` for ceilings. */
export function metricChange(
  s: ScenarioResult,
  metric: 'peak' | 'retained' | 'leak',
  ceiling = false,
): string {
  if (metric === 'leak') {
    const head = s.head.leak ?? 0;
    return ceiling
      ? `leak ${formatBytes(head)}/iter`
      : `leak ${formatDelta(s.delta.leak ?? head - (s.base.leak ?? 0))}/iter`;
  }
  const base = s.base[metric];
  const head = s.head[metric];
  if (ceiling || s.status === 'no-baseline') return `${metric} ${formatBytes(head)}`;
  return `${metric} ${formatDelta(head - base)} (${formatPercent(base, head)})`;
}

/** A broken or the most notable budget result with its scenario. */
export interface WorstChange {
  scenario: ScenarioResult;
  budget?: BudgetResult;
}

/**
 * The single change the headline talks about: the most exceeded fail rule, else the most exceeded warn rule, else
 * the largest peak change of any compared scenario. Undefined when nothing changed.
 */
export function worstChange(scenarios: readonly ScenarioResult[]): WorstChange | undefined {
  for (const level of ['fail', 'warn'] as const) {
    let best: WorstChange | undefined;
    for (const s of scenarios) {
      for (const b of s.budget) {
        if (b.ok || b.level !== level) continue;
        if (!best?.budget || severity(b) > severity(best.budget)) best = { scenario: s, budget: b };
      }
    }
    if (best) return best;
  }
  let best: ScenarioResult | undefined;
  for (const s of scenarios) {
    if (s.status !== 'ok') continue;
    if (!best || Math.abs(s.delta.peak) > Math.abs(best.delta.peak)) best = s;
  }
  return best && best.delta.peak !== 0 ? { scenario: best } : undefined;
}

/** The worst change in words, e.g. ``peak +12.4 MiB (+31 %) in `parse-large`, over the +5 % budget``. */
export function worstChangeWords(w: WorstChange, name: Name): string {
  const where = `in ${name(w.scenario.name)}`;
  if (!w.budget) return `largest change: ${metricChange(w.scenario, 'peak')} ${where}, within budget`;
  const ceiling = isCeiling(w.budget);
  const what = metricChange(w.scenario, metricOf(w.budget), ceiling);
  return `${what} ${where}, over the ${limitWords(w.budget, name)} ${ceiling ? 'ceiling' : 'budget'}`;
}

/** A budget result as a short status: `✅ within budget`, `❌ peak +5 %: +12.4 MiB`. */
export function budgetWords(b: BudgetResult, name: Name): string {
  const metric = parseRule(b.rule).metric || 'budget';
  const ceiling = isCeiling(b);
  const actual = ceiling ? formatBytes(b.actual) : formatDelta(b.actual);
  const unit = metricOf(b) === 'leak' ? '/iter' : '';
  return `${metric} ${actual}${unit} > ${limitWords(b, name)}`;
}

/** How much a site changed: the largest of its peak, retained and leak deltas (leak weighed by iterations). */
export function siteImpact(s: SiteDiff, iterations = 1): number {
  return Math.max(
    Math.abs(s.peak.delta),
    Math.abs(s.retained.delta),
    s.leak ? Math.abs(s.leak.delta) * Math.max(1, iterations) : 0,
  );
}

// The size reduction renders the same report many times; sort each scenario's sites once.
const sortedCache = new WeakMap<SiteDiff[], SiteDiff[]>();

/** The sites worth listing (never `same`), largest change first; and how many changed sites were left out. */
export function listedSites(s: ScenarioResult, limit: number): { sites: SiteDiff[]; more: number } {
  let sorted = sortedCache.get(s.sites);
  if (!sorted) {
    sorted = s.sites
      .filter((x) => x.status !== 'same')
      .sort((a, b) => siteImpact(b, s.iterations) - siteImpact(a, s.iterations));
    sortedCache.set(s.sites, sorted);
  }
  const n = Math.max(0, limit);
  return { sites: sorted.slice(0, n), more: Math.max(0, sorted.length - n) };
}

/** Changed sites and unchanged ones (the `sameSites` count plus any `same` entries in `sites`). */
export function siteCounts(s: ScenarioResult): { changed: number; same: number } {
  const changed = s.sites.filter((x) => x.status !== 'same').length;
  const same = (s.sameSites ?? 0) + s.sites.filter((x) => x.status === 'same').length;
  return { changed, same };
}

/**
 * The gc findings of a scenario in words a reviewer can act on: new uncollectable objects, growth of cyclic garbage
 * and the types whose live counts grew most (per-iteration wording when the scenario repeated a call).
 */
export function gcFindings(s: ScenarioResult, name: Name, maxTypes = 3): string[] {
  const gc = s.gc;
  if (!gc) return [];
  const out: string[] = [];
  const u = gc.uncollectable;
  if (u.head > u.base) {
    out.push(
      `${formatCountDelta(u.head - u.base)} uncollectable objects (${formatCount(u.base)} → ${formatCount(u.head)}): ` +
        'they sit in `gc.garbage` for good; look for `__del__` on objects in reference cycles.',
    );
  }
  const c = gc.cyclic;
  if (c && c.head > c.base) {
    out.push(
      `Cyclic garbage grew by ${formatCount(c.head - c.base)} objects ` +
        `(${formatDelta(c.bytes.head - c.bytes.base)}, ${formatBytes(c.bytes.base)} → ${formatBytes(c.bytes.head)}): ` +
        'memory freed only by the cycle collector; ' +
        'breaking the cycle (e.g. a `weakref`) frees it on time.',
    );
  }
  const grown = gc.growth
    .filter((g) => g.delta > 0)
    .sort((a, b) => b.delta - a.delta)
    .slice(0, maxTypes);
  const n = s.iterations;
  for (const g of grown) {
    const per = n && n > 0 ? ` per ${formatCount(n)} calls` : ' after the run';
    const perCall = n && n > 0 && g.delta / n >= 1 ? `, about ${formatCount(g.delta / n)} per call` : '';
    out.push(
      `${formatCountDelta(g.delta)} ${name(g.type)} objects retained${per} compared with base ` +
        `(live count growth ${formatCount(g.base)} → ${formatCount(g.head)}${perCall}).`,
    );
  }
  return out;
}

/** Words for a side's measurement detail: `measured, peak breakdown yes, 1 frame`. */
export function detailWords(d: NonNullable<ScenarioResult['detail']>['base']): string {
  if (!d) return 'not measured';
  const parts = [
    d.source === 'reused' ? 'reused from cache' : 'measured',
    `peak breakdown ${d.peakSites ? 'yes' : 'no'}`,
    `${d.frames} frame${d.frames === 1 ? '' : 's'}`,
  ];
  return parts.join(', ');
}

/** The fallback local command that reproduces a comparison. */
export function defaultCommand(baseSha: string, headSha: string): string {
  return `npx memdelta compare --base ${baseSha} --head ${headSha}`;
}
