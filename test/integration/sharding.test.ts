/**
 * Sharding end to end through the CLI: three `--shard i/3` compares write partial reports, and
 * `memdelta aggregate` merges them into the verdict and sites of one unsharded compare.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompareReport } from '../../src/report/types.js';
import { runCliInProcess } from '../support/cli.js';
import { makeRepo, type TestRepo } from '../support/git-repo.js';

let out: string;
let repo: TestRepo;
const NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'memdelta-shard-'));
  const config = [
    'defaults:',
    '  budgets: { peak: "+5%" }',
    'scenarios:',
    ...NAMES.map((n) => `  - { name: ${n}, run: "bench_${n}.py" }`),
  ].join('\n');
  const bench = (n: number) => `data = [bytearray(1000) for _ in range(${n})]\n`;
  const base: Record<string, string> = { '.memdelta.yml': config };
  const head: Record<string, string> = {};
  NAMES.forEach((n, i) => {
    base[`bench_${n}.py`] = bench(1000);
    // every other scenario grows on head
    if (i % 2 === 0) head[`bench_${n}.py`] = bench(3000);
  });
  repo = await makeRepo([{ files: base }, { files: head }]);
});
afterAll(async () => {
  await repo.remove();
  await rm(out, { recursive: true, force: true });
});

// In the output folder, so reports are named relative to it as a user in that folder would.
const cli = (args: string[]) => runCliInProcess(args, { cwd: out });

const read = (f: string) => JSON.parse(readFileSync(join(out, f), 'utf8')) as CompareReport;
const view = (r: CompareReport) => ({
  verdict: r.verdict,
  scenarios: r.scenarios.map((s) => ({
    name: s.name,
    status: s.status,
    base: s.base,
    budget: s.budget.map((b) => [b.rule, b.ok]),
    sites: s.sites.map((x) => [x.file, x.function, x.code, x.status, x.peak.base, x.retained.base]),
  })),
});

describe('sharding', () => {
  it('three shards aggregate to the verdict and sites of one unsharded compare', async () => {
    const common = [
      'compare',
      '--repo',
      repo.dir,
      '--base',
      repo.shas[0]!,
      '--head',
      repo.shas[1]!,
      '--quiet',
    ];
    const cache = ['--cache', join(out, 'cache')];
    const whole = await cli([...common, ...cache, '--json', 'whole.json']);
    expect(whole.code).toBe(1);
    for (const i of [1, 2, 3]) {
      const r = await cli([...common, ...cache, '--shard', `${i}/3`, '--json', `part-${i}.json`]);
      expect(r.code).toBeLessThanOrEqual(1);
    }
    const parts = [1, 2, 3].map((i) => read(`part-${i}.json`));
    // each scenario in exactly one shard, each shard marked
    expect(parts.flatMap((p) => p.scenarios.map((s) => s.name)).sort()).toEqual([...NAMES].sort());
    parts.forEach((p, i) => expect(p.shard).toMatchObject({ index: i + 1, count: 3, total: NAMES.length }));

    const merged = await cli([
      'aggregate',
      '--json',
      'merged.json',
      '--markdown',
      'merged.md',
      'part-3.json',
      'part-1.json',
      'part-2.json',
    ]);
    expect(merged.code).toBe(1);
    const m = read('merged.json');
    expect(m.shard).toBeUndefined();
    expect(m.scenarios.map((s) => s.name)).toEqual(NAMES);
    expect(view(m)).toEqual(view(read('whole.json')));
    expect(readFileSync(join(out, 'merged.md'), 'utf8')).toContain('alpha');

    // a missing shard is an error that names it; the compared scenarios are kept
    const partial = await cli(['aggregate', '--json', 'partial.json', 'part-1.json', 'part-2.json']);
    expect(partial.code).toBe(2);
    expect(partial.stderr).toContain('shard 3/3 is missing');
    expect(read('partial.json').verdict).toBe('error');

    // a forged partial report is refused, naming the file
    const forged = { ...parts[0], scenarios: [{ name: 'x' }] };
    writeFileSync(join(out, 'forged.json'), JSON.stringify(forged));
    const bad = await cli(['aggregate', '--json', 'bad.json', 'forged.json', 'part-2.json', 'part-3.json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/forged\.json: the compare report's field scenarios\.0\.\w+ is invalid/);
    // the same shard twice
    const twice = await cli(['aggregate', 'part-1.json', 'part-1.json']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('are both shard 1/3');
  });

  it('refuses a malformed --shard before doing anything', async () => {
    const r = await cli(['compare', '--repo', repo.dir, '--shard', '4/3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--shard');
  });
});
