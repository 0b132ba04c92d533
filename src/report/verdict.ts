/**
 * Budgets and the verdict. Each rule is checked against a scenario's totals and reported with its limit, the
 * actual value and whether it held; the verdict is the worst outcome over all scenarios.
 */
import type { BudgetRule, NoiseFloor } from '../plan/types.js';
import type { BudgetResult, ScenarioResult, SideTotals, Verdict } from './types.js';

/**
 * Whether a change from `base` to `head` is real rather than noise: it must exceed both the byte floor and the
 * percentage floor (of base). A change from 0 is judged on bytes alone.
 */
export function isBeyondNoise(base: number, head: number, floor: NoiseFloor): boolean {
  const d = Math.abs(head - base);
  if (d <= floor.bytes) return false;
  return base === 0 || (d * 100) / Math.abs(base) > floor.percent;
}

type Totals = Pick<SideTotals, 'peak' | 'retained' | 'leak'>;

function metricValues(
  rule: BudgetRule,
  base: Totals | undefined,
  head: Totals,
): { base?: number; head?: number } {
  switch (rule.metric) {
    case 'peak':
    case 'peak-max':
      return { base: base?.peak, head: head.peak };
    case 'retained':
    case 'retained-max':
      return { base: base?.retained, head: head.retained };
    case 'leak':
    case 'leak-max':
      return { base: base?.leak, head: head.leak };
  }
}

/**
 * Checks a scenario's rules.
 * @param base base totals, or undefined when the scenario has no baseline (only ceilings are checked then)
 * @param head head totals
 * @returns one result per applicable rule; growth rules need a baseline and leak rules a measured leak
 */
export function checkBudgets(
  rules: readonly BudgetRule[],
  base: Totals | undefined,
  head: Totals,
  floor: NoiseFloor,
): BudgetResult[] {
  const results: BudgetResult[] = [];
  for (const rule of rules) {
    const v = metricValues(rule, base, head);
    if (v.head === undefined) continue; // e.g. a leak rule on a script that is not repeated
    const ceiling = rule.metric.endsWith('-max');
    if (ceiling) {
      results.push({
        rule: rule.text,
        limit: rule.value,
        actual: v.head,
        level: rule.level,
        ok: v.head <= rule.value,
      });
      continue;
    }
    if (v.base === undefined) continue; // growth needs a baseline
    const delta = v.head - v.base;
    const limit = rule.kind === 'relative' ? Math.round(Math.abs(v.base) * rule.value) : rule.value;
    // A change inside the noise floor never fails a growth rule: it is not a change.
    const ok = delta <= limit || !isBeyondNoise(v.base, v.head, floor);
    results.push({ rule: rule.text, limit, actual: delta, level: rule.level, ok });
  }
  return results;
}

/** The overall verdict: error if any scenario errored, else fail, warn or pass by the broken rules' levels. */
export function overallVerdict(scenarios: readonly Pick<ScenarioResult, 'status' | 'budget'>[]): Verdict {
  if (scenarios.some((s) => s.status === 'error')) return 'error';
  const broken = scenarios.flatMap((s) => s.budget.filter((b) => !b.ok));
  if (broken.some((b) => b.level === 'fail')) return 'fail';
  if (broken.length > 0) return 'warn';
  return 'pass';
}
