import { describe, expect, it } from 'vitest';
import { fnv1a, parseShard, selectShard, ShardError, shardOf } from '../../src/plan/shard.js';
import { aggregateReports, ShardMergeError } from '../../src/report/aggregate.js';
import { parseCompareReport } from '../../src/report/compare-schema.js';
import type { CompareReport, ScenarioResult } from '../../src/report/types.js';

const names = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `scenario-${i + 1}` }));

describe('shards', () => {
  it('puts each of 12 scenarios in exactly one of 3 shards', () => {
    const all = names(12);
    const shards = [1, 2, 3].map((index) => selectShard(all, { index, count: 3 }));
    const seen = shards.flat().map((x) => x.item.name);
    expect(seen.sort()).toEqual(all.map((s) => s.name).sort());
    expect(new Set(seen).size).toBe(12);
    // positions point back into the plan
    for (const shard of shards) for (const { item, position } of shard) expect(all[position]).toBe(item);
  });

  it('moves no existing scenario when a 13th is added', () => {
    const before = names(12);
    const after = names(13);
    const where = (list: { name: string }[]) =>
      new Map(
        [1, 2, 3].flatMap((index) => selectShard(list, { index, count: 3 }).map((x) => [x.item.name, index])),
      );
    const a = where(before);
    const b = where(after);
    for (const [name, shard] of a) expect(b.get(name)).toBe(shard);
    expect(b.has('scenario-13')).toBe(true);
  });

  it('hashes with 32-bit FNV-1a of the UTF-8 name', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
    expect(shardOf('a', 4)).toBe((0xe40c292c % 4) + 1);
  });

  it('parses i/n and refuses anything else with the accepted form', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(parseShard(' 1 / 1 ')).toEqual({ index: 1, count: 1 });
    for (const bad of ['0/4', '5/4', '2', '2/0', '-1/4', 'a/b', '1/257', '2/4/8']) {
      expect(() => parseShard(bad)).toThrow(ShardError);
      expect(() => parseShard(bad)).toThrow(/write i\/n/);
    }
  });
});

function scenario(name: string, verdictOk = true): ScenarioResult {
  return {
    name,
    status: 'ok',
    base: { peak: 100, retained: 10 },
    head: { peak: 200, retained: 10 },
    delta: { peak: 100, retained: 0 },
    budget: [{ rule: 'peak: +5%', limit: 5, actual: 100, level: 'fail', ok: verdictOk }],
    sites: [],
  };
}

function part(
  index: number,
  count: number,
  total: number,
  items: [string, number, boolean?][],
): CompareReport {
  return {
    schema: 'memdelta/compare@1',
    verdict: 'pass',
    base: { ref: 'main', sha: 'a'.repeat(40) },
    head: { ref: 'pr', sha: 'b'.repeat(40) },
    scenarios: items.map(([n, , ok]) => scenario(n, ok ?? true)),
    shard: { index, count, total, positions: items.map(([, p]) => p) },
  };
}

describe('aggregate', () => {
  it('merges shards in plan order with one verdict, and validates the shard field', () => {
    const parts = [
      part(2, 2, 3, [['b', 1, false]]),
      part(1, 2, 3, [
        ['a', 0],
        ['c', 2],
      ]),
    ];
    for (const p of parts) expect(parseCompareReport(JSON.stringify(p))).toEqual(p);
    const merged = aggregateReports(parts.map((report, i) => ({ name: `r${i}.json`, report })));
    expect(merged.scenarios.map((s) => s.name)).toEqual(['a', 'b', 'c']);
    expect(merged.verdict).toBe('fail');
    expect(merged.shard).toBeUndefined();
    expect(merged.error).toBeUndefined();
  });

  it('says which shard is missing and makes the verdict error, keeping what was compared', () => {
    const merged = aggregateReports([{ name: 'r1.json', report: part(1, 3, 3, [['a', 0]]) }]);
    expect(merged.verdict).toBe('error');
    expect(merged.error).toMatch(/shards 2\/3, 3\/3 are missing/);
    expect(merged.scenarios.map((s) => s.name)).toEqual(['a']);
  });

  it('refuses reports of different compares, a repeated shard or a repeated scenario', () => {
    const other = { ...part(2, 2, 2, [['b', 1]]), head: { ref: 'x', sha: 'c'.repeat(40) } };
    expect(() =>
      aggregateReports([
        { name: 'one.json', report: part(1, 2, 2, [['a', 0]]) },
        { name: 'two.json', report: other },
      ]),
    ).toThrow(ShardMergeError);
    expect(() =>
      aggregateReports([
        { name: 'one.json', report: part(1, 2, 2, [['a', 0]]) },
        { name: 'two.json', report: part(1, 2, 2, [['b', 1]]) },
      ]),
    ).toThrow(/one\.json and two\.json are both shard 1\/2|two\.json and one\.json are both shard 1\/2/);
    expect(() =>
      aggregateReports([
        { name: 'one.json', report: part(1, 2, 2, [['a', 0]]) },
        { name: 'two.json', report: part(2, 3, 2, [['b', 1]]) },
      ]),
    ).toThrow(/shard 2\/3/);
    expect(() =>
      aggregateReports([
        { name: 'one.json', report: part(1, 2, 2, [['a', 0]]) },
        { name: 'two.json', report: part(2, 2, 2, [['a', 1]]) },
      ]),
    ).toThrow(/scenario "a" is in both one\.json and two\.json/);
    const bad = { ...part(1, 2, 2, [['a', 0]]), shard: { index: 3, count: 2, total: 2, positions: [0] } };
    expect(() => parseCompareReport(JSON.stringify(bad))).toThrow(/shard/);
  });
});
