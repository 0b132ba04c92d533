import { describe, expect, it } from 'vitest';
import { parseGrowth, parsePerIteration, parseSize } from '../../src/plan/units.js';
import { parseRule, parseRules, layerRules, defaultRules } from '../../src/plan/budget.js';

describe('sizes', () => {
  it.each([
    ['4096', 4096],
    ['512MB', 512_000_000],
    ['0.5GiB', 512 * 1024 * 1024],
    ['2 MiB', 2 * 1024 * 1024],
    ['16KiB', 16384],
    ['1kB', 1000],
    ['3K', 3072],
    ['.5KiB', 512],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each([
    ['abc', /is not a size/],
    ['-1', /is not a size/],
    ['', /is not a size/],
    ['1e309MiB', /is not a size/],
    ['5 %%', /is not a size/],
    ['12 parsecs', /unknown unit "parsecs"/],
    ['2048TiB', /larger than 1 PiB/],
  ])('refuses %j', (text, message) => {
    expect(() => parseSize(text)).toThrow(message);
  });

  it('parses growths and per-iteration sizes', () => {
    expect(parseGrowth('+5%')).toEqual({ kind: 'relative', value: 0.05 });
    expect(parseGrowth('+2MiB')).toEqual({ kind: 'bytes', value: 2 * 1024 * 1024 });
    expect(parsePerIteration('16KiB/iter')).toBe(16384);
    expect(() => parseGrowth('5%')).toThrow(/write it with a sign/);
    expect(() => parseGrowth('+5 %%')).toThrow(/not a percentage/);
    expect(() => parsePerIteration('16KiB')).toThrow(/per iteration/);
  });
});

describe('budget rules', () => {
  it('parses every metric and level', () => {
    expect(parseRule('peak: +5%')).toMatchObject({
      metric: 'peak',
      kind: 'relative',
      value: 0.05,
      level: 'fail',
    });
    expect(parseRule('warn peak: +2MiB')).toMatchObject({
      metric: 'peak',
      kind: 'bytes',
      value: 2097152,
      level: 'warn',
    });
    expect(parseRule('peak-max: 512MiB')).toMatchObject({ metric: 'peak-max', value: 536870912 });
    expect(parseRule('retained: +1MiB')).toMatchObject({ metric: 'retained', value: 1048576 });
    expect(parseRule('leak: 16KiB/iter')).toMatchObject({ metric: 'leak-max', value: 16384 });
    expect(parseRule('leak: +4KiB/iter')).toMatchObject({ metric: 'leak', value: 4096 });
    expect(parseRule('fail retained-max: 1GB')).toMatchObject({ metric: 'retained-max', value: 1e9 });
  });

  it.each([
    ['peak: abc', /budget "peak: abc": "abc" is not a growth/],
    ['peak: -1', /"-1" is not a growth/],
    ['peak: 5 %%', /"5 %%" is not a growth: write "\+5%" or "\+2MiB", or use peak-max/],
    ['peak: +5 %%', /not a percentage/],
    ['peak:', /empty value/],
    ['peak-max: 1e309MiB', /not a size/],
    ['speed: +5%', /unknown metric "speed"/],
    ['', /is not a budget rule/],
  ])('refuses %j precisely', (rule, message) => {
    expect(() => parseRule(rule)).toThrow(message);
  });

  it('numbers the lines of a multi-line budget input', () => {
    expect(parseRules('peak: +5%\n\n# comment\nwarn retained: +1MiB').map((r) => r.text)).toEqual([
      'peak: +5%',
      'warn retained: +1MiB',
    ]);
    expect(() => parseRules('peak: +5%\nretained: lots')).toThrow(/budget line 2/);
  });

  it('layers rules by metric and level', () => {
    const merged = layerRules(defaultRules(), [parseRule('peak: +10%'), parseRule('warn peak: +2%')]);
    expect(merged.map((r) => r.text).sort()).toEqual([
      'leak: 16KiB/iter',
      'peak: +10%',
      'retained: +1MiB',
      'warn peak: +2%',
    ]);
  });
});
