/**
 * Turning the probe reports of one scenario into its result: totals, site diff, budgets, gc findings and how each
 * side was obtained. Shared by plain scenarios and by the tests of a pytest scenario; pure (no I/O).
 */
import type { BudgetRule, NoiseFloor, Plan } from '../plan/types.js';
import { diffSites, isProjectFile } from './diff.js';
import type { GcDiff, ProbeReport, ScenarioError, ScenarioResult, SideDetail } from './types.js';
import { checkBudgets, isBeyondNoise } from './verdict.js';

/** What judging needs to know of a scenario (a plan scenario, or one test of a pytest scenario). */
export interface Judged {
  name: string;
  budgets: BudgetRule[];
  minDelta: NoiseFloor;
  iterations: number;
}

/** One side's reports: `totals` from the cheap pass, `sites` from the detail pass when there was one. */
export interface JudgedSide {
  totals: ProbeReport;
  sites: ProbeReport;
  /** Every pass of this side came from the base-report cache. */
  reused: boolean;
}

/** How a side was measured, for the report's detail line. */
export function detailOf(r: ProbeReport, reused = false): SideDetail {
  return {
    source: reused ? 'reused' : 'measured',
    frames: r.settings.frames,
    peakSites: r.settings.peak_sites,
    python: r.python.version,
    exitCode: r.exit_code,
    wallTime: r.wall_time,
  };
}

/** The totals of a report as the compare report shows them. */
export function totalsOf(r: ProbeReport): { peak: number; retained: number; leak?: number } {
  return { peak: r.peak, retained: r.retained, ...(r.leak ? { leak: r.leak.per_iteration } : {}) };
}

/** Growth by type, uncollectable and cyclic garbage on both sides; undefined when head has no gc findings. */
export function gcDiff(base: ProbeReport | null, head: ProbeReport): GcDiff | undefined {
  if (!head.gc) return undefined;
  const growth = new Map<string, { base: number; head: number }>();
  for (const g of base?.gc?.growth ?? []) growth.set(g.type, { base: g.delta, head: 0 });
  for (const g of head.gc.growth) growth.set(g.type, { base: growth.get(g.type)?.base ?? 0, head: g.delta });
  return {
    uncollectable: { base: base?.gc?.uncollectable.count ?? 0, head: head.gc.uncollectable.count },
    cyclic: {
      base: base?.gc?.cyclic.objects ?? 0,
      head: head.gc.cyclic.objects,
      bytes: { base: base?.gc?.cyclic.bytes ?? 0, head: head.gc.cyclic.bytes },
    },
    growth: [...growth.entries()]
      .map(([type, v]) => ({ type, base: v.base, head: v.head, delta: v.head - v.base }))
      .filter((g) => g.delta !== 0)
      .sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta) || (x.type < y.type ? -1 : 1))
      .slice(0, 20),
  };
}

/** A result with nothing measured yet: status `error` until a judgement replaces it. */
export function emptyResult(s: Pick<Judged, 'name' | 'iterations'>): ScenarioResult {
  return {
    name: s.name,
    status: 'error',
    base: { peak: 0, retained: 0 },
    head: { peak: 0, retained: 0 },
    delta: { peak: 0, retained: 0 },
    budget: [],
    sites: [],
    ...(s.iterations > 1 ? { iterations: s.iterations } : {}),
  };
}

/**
 * A head that could not be measured is an error whatever base did; base's numbers are still shown, and base's own
 * failure is kept beside it (unless base simply does not have the benchmark).
 */
export function headErrorResult(
  s: Pick<Judged, 'name' | 'iterations'>,
  error: ScenarioError,
  base: { report: ProbeReport; reused: boolean } | { error?: ScenarioError },
): ScenarioResult {
  const result = emptyResult(s);
  result.error = error;
  if ('report' in base) {
    result.base = totalsOf(base.report);
    result.detail = { base: detailOf(base.report, base.reused) };
  } else if (base.error) {
    result.baseError = base.error;
  }
  return result;
}

/**
 * Judges a measured head against base (or against nothing: `no-baseline`). Totals and gc findings come from the
 * cheap pass (the breakdown pass's hook keeps a little state of its own), sites from the last pass of each side.
 */
export function judge(
  s: Judged,
  base: JudgedSide | null,
  head: JudgedSide,
  options: { baseError?: ScenarioError; rss?: { base?: number; head?: number } } = {},
): ScenarioResult {
  const result = emptyResult(s);
  if (options.baseError) result.baseError = options.baseError;
  result.status = base ? 'ok' : 'no-baseline';
  result.head = totalsOf(head.totals);
  result.base = base ? totalsOf(base.totals) : { peak: 0, retained: 0 };
  result.detail = {
    head: detailOf(head.sites),
    ...(base ? { base: detailOf(base.sites, base.reused) } : {}),
  };
  if (options.rss?.head !== undefined) result.head.rss = options.rss.head;
  if (base && options.rss?.base !== undefined) result.base.rss = options.rss.base;
  const diff = diffSites(base?.sites ?? null, head.sites, s.minDelta);
  result.sites = diff.sites;
  result.sameSites = diff.sameSites;
  result.delta = {
    peak: result.head.peak - result.base.peak,
    retained: result.head.retained - result.base.retained,
    ...(result.head.leak !== undefined ? { leak: result.head.leak - (result.base.leak ?? 0) } : {}),
    ...(result.head.rss !== undefined && result.base.rss !== undefined
      ? { rss: result.head.rss - result.base.rss }
      : {}),
  };
  result.budget = checkBudgets(s.budgets, base ? result.base : undefined, result.head, s.minDelta);
  const gc = gcDiff(base?.totals ?? null, head.totals);
  if (gc) result.gc = gc;
  return result;
}

/**
 * Whether a scenario measured cheaply on both sides needs a detail pass, and which: the breakdown when the peak
 * moved, deeper frames when a changed site could not be attributed to the project. Undefined: the cheap pass is
 * all there is to say.
 */
export function detailNeed(
  plan: Pick<Plan, 'frames' | 'detailFrames'>,
  floor: NoiseFloor,
  base: ProbeReport,
  head: ProbeReport,
): { frames: number; peakSites: boolean } | undefined {
  const peakMoved = isBeyondNoise(base.peak, head.peak, floor);
  const cheapSites = diffSites(base, head, floor);
  const unattributed = cheapSites.sites.some((s) => s.status !== 'same' && !isProjectFile(s.file));
  const deeper = unattributed && plan.detailFrames > plan.frames;
  if (!peakMoved && !deeper) return undefined;
  return { frames: deeper ? plan.detailFrames : plan.frames, peakSites: peakMoved };
}
