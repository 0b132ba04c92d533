/**
 * The base-report cache end to end through the CLI: a second compare against the same base reuses base's reports
 * with identical numbers, a corrupted entry is ignored and overwritten, and the key follows the plan.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePlan } from '../../src/plan/config.js';
import type { CompareReport } from '../../src/report/types.js';
import { baseCacheKey, defaultCacheDir } from '../../src/run/base-cache.js';
import { runCliInProcess } from '../support/cli.js';
import { makeRepo, type TestRepo } from '../support/git-repo.js';

let out: string;
let repo: TestRepo;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'memdelta-cache-'));
  const config = [
    'scenarios:',
    '  - { name: grow, run: bench.py }',
    '  - { name: calls, run: "pkg.work:step", iterations: 12, warmup: 1 }',
  ].join('\n');
  const work = 'KEPT = []\n\ndef step():\n    KEPT.append(bytearray(1000))\n';
  repo = await makeRepo([
    {
      files: {
        '.memdelta.yml': config,
        'bench.py': 'data = [bytearray(1000) for _ in range(2000)]\n',
        'pkg/__init__.py': '',
        'pkg/work.py': work,
      },
    },
    {
      files: {
        'bench.py': 'data = [bytearray(1000) for _ in range(6000)]\n',
        'pkg/work.py': work.replace('1000', '3000'),
      },
    },
  ]);
});
afterAll(async () => {
  await repo.remove();
  await rm(out, { recursive: true, force: true });
});

/** `memdelta compare` of the test repository's two commits, in-process, with the report it wrote. */
function compareWith(args: string[]) {
  return runCliInProcess(
    ['compare', '--repo', repo.dir, '--base', repo.shas[0]!, '--head', repo.shas[1]!, ...args],
    { reportDir: out },
  );
}

/**
 * What a reused base must give exactly: base totals and every site's base numbers (they come from the cached
 * report), and the verdict, budgets and site statuses built on them.
 */
function numbers(r: CompareReport) {
  return {
    verdict: r.verdict,
    scenarios: r.scenarios.map((s) => ({
      name: s.name,
      status: s.status,
      base: s.base,
      budget: s.budget.map((b) => [b.rule, b.ok]),
      sites: s.sites.map((x) => [
        x.file,
        x.function,
        x.code,
        x.status,
        x.peak.base,
        x.retained.base,
        x.leak?.base,
      ]),
    })),
  };
}

describe('base-report cache', () => {
  it('reuses base on the second run with identical numbers, and ignores a corrupted entry', async () => {
    const dir = join(out, 'cache');
    const first = await compareWith(['--cache', dir]);
    expect(first.report.scenarios.map((s) => s.status)).toEqual(['ok', 'ok']);
    expect(first.report.scenarios.map((s) => s.detail?.base?.source)).toEqual(['measured', 'measured']);
    const entries = readdirSync(dir).filter((f) => f.endsWith('.json'));
    // grow's peak moved (cheap and detail pass); calls' too: at least one entry per scenario.
    expect(entries.length).toBeGreaterThanOrEqual(2);
    expect(entries.every((f) => f.startsWith(`${repo.shas[0]}-`))).toBe(true);

    const second = await compareWith(['--cache', dir]);
    expect(second.report.scenarios.map((s) => s.detail?.base?.source)).toEqual(['reused', 'reused']);
    expect(second.stderr).toContain('reused from the cache');
    expect(numbers(second.report)).toEqual(numbers(first.report));
    expect(second.code).toBe(first.code);

    for (const f of entries) writeFileSync(join(dir, f), '{"schema": "memdelta/probe@1", "peak": -1');
    const third = await compareWith(['--cache', dir]);
    expect(third.report.scenarios.map((s) => s.detail?.base?.source)).toEqual(['measured', 'measured']);
    expect(numbers(third.report)).toEqual(numbers(first.report));
    // overwritten with valid reports, reused again afterwards
    for (const f of entries)
      expect(JSON.parse(readFileSync(join(dir, f), 'utf8')).schema).toBe('memdelta/probe@1');
    const fourth = await compareWith(['--cache', dir]);
    expect(fourth.report.scenarios.map((s) => s.detail?.base?.source)).toEqual(['reused', 'reused']);
  });

  it('measures every time with --no-cache and refuses --cache with --no-cache', async () => {
    const a = await compareWith(['--no-cache']);
    const b = await compareWith(['--no-cache']);
    expect([...a.report.scenarios, ...b.report.scenarios].map((s) => s.detail?.base?.source)).toEqual([
      'measured',
      'measured',
      'measured',
      'measured',
    ]);
    expect(numbers(b.report)).toEqual(numbers(a.report));
    const both = await runCliInProcess(['compare', '--cache', out, '--no-cache'], { env: {} });
    expect(both.code).toBe(2);
  });

  it('keys on what shapes the measurement, not on names or budgets', () => {
    const plan = (yml: string) => resolvePlan({ config: { text: yml, file: '.memdelta.yml' } });
    const env = { python: '3.11.2 (main)', probe: '1.0.0+abc' };
    const pass = { pass: 'cheap' as const, frames: 4, peakSites: false };
    const key = (yml: string, e = env, sha = 'a'.repeat(40)) => {
      const p = plan(yml);
      return baseCacheKey(sha, p, p.scenarios[0]!, pass, e);
    };
    const base = key('scenarios: [{ name: a, run: "m:f" }]');
    expect(key('scenarios: [{ name: b, run: "m:f", budgets: ["peak: +1%"] }]')).toBe(base);
    expect(key('scenarios: [{ name: a, run: "m:f", iterations: 30 }]')).not.toBe(base);
    expect(key('scenarios: [{ name: a, run: "m:g" }]')).not.toBe(base);
    expect(key('setup: pip install .\nscenarios: [{ name: a, run: "m:f" }]')).not.toBe(base);
    expect(key('scenarios: [{ name: a, run: "m:f" }]', { ...env, python: '3.12.1' })).not.toBe(base);
    expect(key('scenarios: [{ name: a, run: "m:f" }]', { ...env, probe: '1.0.1+abc' })).not.toBe(base);
    expect(key('scenarios: [{ name: a, run: "m:f" }]', env, 'b'.repeat(40))).not.toBe(base);
    const p = plan('scenarios: [{ name: a, run: "m:f" }]');
    expect(baseCacheKey('a'.repeat(40), p, p.scenarios[0]!, { ...pass, pass: 'detail' }, env)).not.toBe(base);
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' })).toBe('/x/cache/memdelta');
    expect(defaultCacheDir({ HOME: '/home/u' })).toBe('/home/u/.cache/memdelta');
  });
});
