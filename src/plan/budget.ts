/**
 * Budget rules. The written form is `[warn|fail] <metric>: <value>`, for example `peak: +5%`, `warn peak: +2%`,
 * `peak-max: 512MiB`, `retained: +1MiB`, `leak: 16KiB/iter` (a ceiling on head's leak) or `leak: +4KiB/iter`
 * (growth of the leak over base). The level defaults to `fail`. See docs/budgets.md.
 */
import type { BudgetLevel } from '../report/types.js';
import type { BudgetMetric, BudgetRule, NoiseFloor } from './types.js';
import { parseGrowth, parsePerIteration, parseSize, UnitError } from './units.js';

/** Raised for a rule that cannot be understood; the message names where it came from. */
export class BudgetError extends Error {
  override readonly name = 'BudgetError';
}

/** The metric names a rule may use, as written. */
export const METRICS = ['peak', 'peak-max', 'retained', 'retained-max', 'leak', 'leak-max'] as const;

/**
 * Budgets applied when nothing else is said: a 5 % peak growth, 1 MiB more retained memory, or a leak of more than
 * 16 KiB per iteration fail the check. 5 % is above every run-to-run variation measured (a few KiB) and below
 * what a reviewer would want to hear about; 1 MiB retained is a cache or leak worth a look; 16 KiB/iteration is a
 * few hundred objects per call.
 */
export const DEFAULT_BUDGET_TEXT = ['peak: +5%', 'retained: +1MiB', 'leak: 16KiB/iter'] as const;

/**
 * The default noise floor: a change counts only when it is more than 8 KiB AND more than 0.1 % of base. Measured
 * here with PYTHONHASHSEED=0: whole-run noise about 1.5 KB, up to 120 B per site from address layout, and up to
 * about 5 KB at sites whose behaviour depends on hashing (a dict resize); 8 KiB clears all of them.
 */
export const DEFAULT_NOISE_FLOOR: NoiseFloor = { bytes: 8 * 1024, percent: 0.1 };

function where(context: string | undefined): string {
  return context ? `${context}: ` : '';
}

/**
 * Builds a rule from a metric name and its value.
 * @param context where it was written (e.g. `scenario "parse": budgets.peak`), for error messages
 */
export function makeRule(metric: string, value: string, level: BudgetLevel, context?: string): BudgetRule {
  const name = metric.trim().toLowerCase();
  const text = `${level === 'warn' ? 'warn ' : ''}${name}: ${value.trim()}`;
  const prefix = where(context ?? `budget "${text}"`);
  if (!(METRICS as readonly string[]).includes(name)) {
    throw new BudgetError(
      `${prefix}unknown metric ${JSON.stringify(metric)} (use one of ${METRICS.join(', ')})`,
    );
  }
  const v = value.trim();
  if (v === '') throw new BudgetError(`${prefix}empty value`);
  try {
    switch (name as BudgetMetric) {
      case 'peak':
      case 'retained': {
        if (!v.startsWith('+')) {
          throw new UnitError(
            `${JSON.stringify(v)} is not a growth: write "+5%" or "+2MiB", or use ${name}-max for a ceiling`,
          );
        }
        const g = parseGrowth(v);
        return { metric: name as BudgetMetric, kind: g.kind, value: g.value, level, text };
      }
      case 'peak-max':
      case 'retained-max':
        return { metric: name as BudgetMetric, kind: 'bytes', value: parseSize(v), level, text };
      case 'leak':
        if (v.startsWith('+')) {
          return { metric: 'leak', kind: 'bytes', value: parsePerIteration(v.slice(1)), level, text };
        }
        return { metric: 'leak-max', kind: 'bytes', value: parsePerIteration(v), level, text };
      case 'leak-max':
        return { metric: 'leak-max', kind: 'bytes', value: parsePerIteration(v), level, text };
    }
  } catch (e) {
    if (e instanceof UnitError) throw new BudgetError(`${prefix}${e.message}`);
    throw e;
  }
  throw new BudgetError(`${prefix}unknown metric`);
}

/**
 * Parses a written rule: `[warn|fail] <metric>: <value>`.
 * @param context where it was written, for error messages (e.g. `--budget`)
 */
export function parseRule(input: string, context?: string): BudgetRule {
  const s = input.trim();
  const m = /^(?:(warn|fail)\s+)?([a-z-]+)\s*:\s*(.*)$/i.exec(s);
  if (!m) {
    throw new BudgetError(
      `${where(context)}${JSON.stringify(input.slice(0, 80))} is not a budget rule (examples: "peak: +5%", "warn retained: +512KiB", "peak-max: 1GiB", "leak: 16KiB/iter")`,
    );
  }
  const level = ((m[1] ?? 'fail').toLowerCase() as BudgetLevel) ?? 'fail';
  return makeRule(m[2] ?? '', m[3] ?? '', level, context);
}

/** Parses newline-separated rules (the action's `budget` input), ignoring blank lines and `#` comments. */
export function parseRules(text: string, context = 'budget'): BudgetRule[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l !== '')
    .map((l, i) => parseRule(l, `${context} line ${i + 1}`));
}

/** The key under which a rule replaces another: same metric (as grouped) and same level. */
export function ruleSlot(r: BudgetRule): string {
  return `${r.level} ${r.metric}`;
}

/**
 * Layers rule sets: each later set replaces the earlier rules of the same metric and level, keeps the rest.
 * Used for built-in defaults < config defaults < CLI/action rules < a scenario's own rules.
 */
export function layerRules(...sets: readonly (readonly BudgetRule[] | undefined)[]): BudgetRule[] {
  const out = new Map<string, BudgetRule>();
  for (const set of sets) {
    if (!set) continue;
    const slots = new Set(set.map(ruleSlot));
    for (const slot of slots) out.delete(slot);
    for (const r of set) out.set(ruleSlot(r), r);
  }
  return [...out.values()];
}

/** The built-in default rules. */
export function defaultRules(): BudgetRule[] {
  return DEFAULT_BUDGET_TEXT.map((t) => parseRule(t, 'default budget'));
}
