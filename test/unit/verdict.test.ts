import { describe, expect, it } from 'vitest';
import { parseRule } from '../../src/plan/budget.js';
import { checkBudgets, isBeyondNoise, overallVerdict } from '../../src/report/verdict.js';

const floor = { bytes: 8192, percent: 0.1 };
const MiB = 1024 * 1024;

describe('noise floor', () => {
  it('needs both the byte and the percentage floor to be exceeded', () => {
    expect(isBeyondNoise(0, 8192, floor)).toBe(false);
    expect(isBeyondNoise(0, 8193, floor)).toBe(true);
    expect(isBeyondNoise(100 * MiB, 100 * MiB + 50_000, floor)).toBe(false); // 0.05 %
    expect(isBeyondNoise(100 * MiB, 100 * MiB + 200_000, floor)).toBe(true);
    expect(isBeyondNoise(20_000, 0, floor)).toBe(true);
  });
});

describe('budgets', () => {
  it('passes a value exactly at the limit and fails one byte over', () => {
    const rule = [parseRule('peak: +5%')];
    expect(
      checkBudgets(rule, { peak: 100 * MiB, retained: 0 }, { peak: 105 * MiB, retained: 0 }, floor)[0],
    ).toMatchObject({
      ok: true,
      limit: 5 * MiB,
      actual: 5 * MiB,
    });
    expect(
      checkBudgets(rule, { peak: 100 * MiB, retained: 0 }, { peak: 105 * MiB + 1, retained: 0 }, floor)[0]
        ?.ok,
    ).toBe(false);
    const ceiling = [parseRule('peak-max: 512MiB')];
    expect(checkBudgets(ceiling, undefined, { peak: 512 * MiB, retained: 0 }, floor)[0]?.ok).toBe(true);
    expect(checkBudgets(ceiling, undefined, { peak: 512 * MiB + 1, retained: 0 }, floor)[0]?.ok).toBe(false);
  });

  it('does not divide by zero when base is 0, and lets noise through', () => {
    const rule = [parseRule('retained: +5%')];
    expect(checkBudgets(rule, { peak: 0, retained: 0 }, { peak: 0, retained: 4000 }, floor)[0]?.ok).toBe(
      true,
    );
    expect(
      checkBudgets(rule, { peak: 0, retained: 0 }, { peak: 0, retained: 40_000 }, floor)[0],
    ).toMatchObject({ ok: false, limit: 0 });
  });

  it('checks only ceilings without a baseline, and leak rules only where a leak was measured', () => {
    const rules = ['peak: +5%', 'peak-max: 1MiB', 'leak: 16KiB/iter'].map((r) => parseRule(r));
    const results = checkBudgets(rules, undefined, { peak: 2 * MiB, retained: 0 }, floor);
    expect(results.map((r) => r.rule)).toEqual(['peak-max: 1MiB']);
    const withLeak = checkBudgets(
      rules,
      { peak: MiB, retained: 0, leak: 0 },
      { peak: MiB, retained: 0, leak: 48 * 1024 },
      floor,
    );
    expect(withLeak.find((r) => r.rule.startsWith('leak'))).toMatchObject({
      ok: false,
      actual: 48 * 1024,
      limit: 16384,
    });
  });

  it('orders verdicts error > fail > warn > pass', () => {
    const ok = { rule: 'r', limit: 1, actual: 0, ok: true, level: 'fail' as const };
    const warn = { ...ok, ok: false, level: 'warn' as const };
    const fail = { ...ok, ok: false };
    expect(overallVerdict([{ status: 'ok', budget: [ok] }])).toBe('pass');
    expect(overallVerdict([{ status: 'ok', budget: [ok, warn] }])).toBe('warn');
    expect(
      overallVerdict([
        { status: 'ok', budget: [warn] },
        { status: 'ok', budget: [fail] },
      ]),
    ).toBe('fail');
    expect(
      overallVerdict([
        { status: 'error', budget: [] },
        { status: 'ok', budget: [fail] },
      ]),
    ).toBe('error');
  });
});
