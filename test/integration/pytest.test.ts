/**
 * pytest mode end to end: real git repositories with a real pytest suite, compared by the engine with the project's
 * own pytest (Debian's python3-pytest serves here). Each test is its own scenario; fixtures are outside the window;
 * a head-only test has no baseline; failures, collection errors, a missing pytest and a memory limit are reported
 * per test or per run; the base cache and sharding work for tests as for scripts.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePlan } from '../../src/plan/config.js';
import { aggregateReports } from '../../src/report/aggregate.js';
import type { CompareReport, ScenarioResult } from '../../src/report/types.js';
import { compare, type CompareOptions } from '../../src/run/compare.js';
import { makeGit } from '../../src/run/git.js';
import { defaultProbeDir } from '../../src/run/probe.js';
import { runCliInProcess } from '../support/cli.js';
import { makeRepo, type TestRepo } from '../support/git-repo.js';
import { findPytestPython } from '../support/pytest-python.js';

const { python } = findPytestPython();

const WORK = (o: { leak: string; peak: string }) => `KEPT = []


def leaky():
    ${o.leak}


def peaky():
    ${o.peak}


def parse(text):
    return text.split(",")


def small(n):
    return ["x" * 100 for _ in range(n)]
`;

const CONFTEST = (size: number) => `import pytest


@pytest.fixture
def big():
    data = bytearray(${size})
    yield data
    del data
`;

const TESTS = `import pytest

from pkg import work


def test_fixture_heavy(big):
    assert big[0] == 0


def test_peak():
    work.peaky()


@pytest.mark.memdelta(iterations=12)
def test_leak():
    work.leaky()


def test_parse():
    assert work.parse("a,b") == ["a", "b"]


@pytest.mark.parametrize("n", [10, 20])
def test_param(n):
    assert len(work.small(n)) == n
`;

const IDS = [
  'tests/test_mem.py::test_fixture_heavy',
  'tests/test_mem.py::test_peak',
  'tests/test_mem.py::test_leak',
  'tests/test_mem.py::test_parse',
  'tests/test_mem.py::test_param[10]',
  'tests/test_mem.py::test_param[20]',
];

const CONFIG = (extra = '') =>
  `defaults:\n  budgets: { peak: "+5%", retained: "+64KiB" }\n${extra}scenarios:\n  - pytest: tests\n`;

const MARKS = `import pytest


@pytest.mark.skipif(True, reason="not yet")
def test_toggle():
    pass


@pytest.mark.xfail(run=False)
def test_never():
    pass
`;

let repo: TestRepo;
let tmp: string;
let noPytest: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'memdelta-pytest-'));
  const base = {
    'pkg/__init__.py': '',
    'pkg/work.py': WORK({ leak: 'return None', peak: 'scratch = bytearray(1_000_000)\n    del scratch' }),
    'tests/conftest.py': CONFTEST(8_000_000),
    'tests/test_mem.py': TESTS,
  };
  repo = await makeRepo([
    { files: base },
    {
      // The fixture doubles too, which must not count: it is set up before the window opens.
      files: {
        'pkg/work.py': WORK({
          leak: 'KEPT.append(bytearray(20_000))',
          peak: 'scratch = bytearray(3_000_000)\n    del scratch',
        }),
        'tests/conftest.py': CONFTEST(16_000_000),
      },
    },
    {
      // A new test, a failing one, and a test that allocates without bound.
      files: {
        'pkg/work.py': WORK({
          leak: 'return None',
          peak: 'kept = []\n    while True:\n        kept.append(bytearray(1_000_000))',
        }),
        'tests/test_mem.py': `${TESTS.replace('["a", "b"]', '["a", "c"]')}\n\ndef test_new():\n    work.small(5)\n`,
      },
      branch: 'errors',
      from: 0,
    },
    { files: { 'tests/test_broken.py': 'def test_x(:\n    pass\n' }, branch: 'broken', from: 0 },
    {
      files: {
        'tests/extra/test_extra.py': 'def test_e():\n    assert [1] * 10\n',
        'tests/extra/test_skipped.py': 'import pytest\n\n\n@pytest.mark.skip\ndef test_s():\n    pass\n',
      },
      branch: 'extra',
      from: 0,
    },
    {
      // A test skipped on base and run on head, and one that is an expected failure never run.
      files: { 'tests/marks/test_marks.py': MARKS },
      branch: 'marks',
      from: 0,
    },
    { files: { 'tests/marks/test_marks.py': MARKS.replace('skipif(True', 'skipif(False') }, branch: 'marks' },
  ]);
  // An interpreter without pytest: a venv without pip sees no site-packages.
  noPytest = join(tmp, 'venv');
  execFileSync('python3', ['-m', 'venv', '--without-pip', noPytest]);
});
afterAll(async () => {
  await repo?.remove();
  await rm(tmp, { recursive: true, force: true });
});

function options(head: number, extra: Partial<CompareOptions> = {}, configExtra = ''): CompareOptions {
  return {
    git: makeGit(repo.dir),
    baseRef: repo.shas[0] as string,
    headRef: repo.shas[head] as string,
    plan: resolvePlan({ config: { text: CONFIG(configExtra), file: '.memdelta.yml' }, flags: { python } }),
    probeDir: defaultProbeDir(),
    memdeltaVersion: 'test',
    ...extra,
  };
}

const byName = (r: CompareReport) => new Map(r.scenarios.map((s) => [s.name, s]));
const failed = (s: ScenarioResult) => s.budget.some((b) => !b.ok && b.level === 'fail');
/** The names of the scenarios over a fail budget, sorted. */
const regressed = (r: CompareReport) =>
  r.scenarios
    .filter(failed)
    .map((s) => s.name)
    .sort();

describe('pytest mode', () => {
  let first: CompareReport;
  const cacheDir = () => join(tmp, 'cache');

  it('reports each test as a scenario; only the two changed tests regress; fixtures are not counted', async () => {
    first = await compare(options(1, { cacheDir: cacheDir() }));
    expect(first.scenarios.map((s) => s.name).sort()).toEqual([...IDS].sort());
    expect(first.scenarios.every((s) => s.status === 'ok')).toBe(true);
    expect(first.verdict).toBe('fail');
    expect(regressed(first)).toEqual([IDS[2], IDS[1]].sort());

    const tests = byName(first);
    // 8 MB on base, 16 MB on head in the fixture: neither is in the test's numbers.
    const fixture = tests.get(IDS[0] as string) as ScenarioResult;
    expect(fixture.head.peak).toBeLessThan(1_000_000);
    expect(Math.abs(fixture.delta.peak)).toBeLessThan(8 * 1024);

    const peak = tests.get(IDS[1] as string) as ScenarioResult;
    expect(peak.delta.peak).toBeGreaterThan(1_900_000);
    const peakSite = peak.sites.find((s) => s.file === 'pkg/work.py' && s.function === 'peaky');
    expect(peakSite?.peak.delta).toBeGreaterThan(1_900_000);

    const leak = tests.get(IDS[2] as string) as ScenarioResult;
    expect(leak.iterations).toBe(12);
    expect(leak.delta.leak).toBeGreaterThan(19_000);
    expect(leak.delta.leak).toBeLessThan(21_000);
    const leakSite = leak.sites.find((s) => s.file === 'pkg/work.py' && s.function === 'leaky');
    expect(leakSite?.code).toBe('KEPT.append(bytearray(20_000))');
    expect(leakSite?.retained.delta).toBeGreaterThan(12 * 19_000);

    // The shard keys leave the plan order intact: tests sort in collection order.
    expect(first.scenarios.map((s) => s.name)).toEqual(IDS);
  });

  it('reuses the base run from the cache on a second compare, with the same numbers', async () => {
    const again = await compare(options(1, { cacheDir: cacheDir() }));
    for (const s of again.scenarios) {
      expect(s.detail?.base?.source).toBe('reused');
      const before = byName(first).get(s.name) as ScenarioResult;
      expect(s.base).toEqual(before.base);
    }
    expect(regressed(again)).toEqual([IDS[2], IDS[1]].sort());
  });

  it('ignores and overwrites a corrupted cached pytest run', async () => {
    const entries = readdirSync(cacheDir()).filter((f) => f.endsWith('.json'));
    expect(entries.length).toBeGreaterThan(0);
    for (const f of entries) writeFileSync(join(cacheDir(), f), '{"schema":"memdelta/pytest@1","tests":[');
    const again = await compare(options(1, { cacheDir: cacheDir() }));
    expect(again.scenarios.map((s) => s.detail?.base?.source)).toEqual(IDS.map(() => 'measured'));
    expect(regressed(again)).toEqual([IDS[2], IDS[1]].sort());
    // The cheap run's entry has the same key and is written again; a detail run's key holds base's cheap peaks,
    // which may differ by a few bytes from the earlier measurement, so that entry may be a new file instead.
    const valid = entries.filter((f) => {
      try {
        return JSON.parse(readFileSync(join(cacheDir(), f), 'utf8')).schema === 'memdelta/pytest@1';
      } catch {
        return false;
      }
    });
    expect(valid.length).toBeGreaterThanOrEqual(1);
  });

  it('splits the tests over three shards that aggregate to the unsharded verdict and sites', async () => {
    const parts = [];
    for (const index of [1, 2, 3]) {
      const part = await compare(options(1, { cacheDir: cacheDir(), shard: { index, count: 3 } }));
      parts.push({ name: `part-${index}`, report: part });
    }
    const names = parts.flatMap((p) => p.report.scenarios.map((s) => s.name));
    expect(names.sort()).toEqual([...IDS].sort());
    const merged = aggregateReports(parts);
    expect(merged.verdict).toBe(first.verdict);
    expect(merged.scenarios.map((s) => s.name)).toEqual(first.scenarios.map((s) => s.name));
    const shape = (r: CompareReport) =>
      r.scenarios.map((s) => ({
        name: s.name,
        failed: failed(s),
        sites: s.sites
          .filter((x) => x.file.startsWith('pkg/'))
          .map((x) => [x.file, x.function, x.code, x.status]),
      }));
    expect(shape(merged)).toEqual(shape(first));
  });

  it('reports a failing test with base numbers, a new test as no-baseline and a memory limit per test', async () => {
    const r = await compare(options(2, { cacheDir: cacheDir() }, '  memory-limit: 256MiB\n'));
    const tests = byName(r);
    expect(r.verdict).toBe('error');

    const parse = tests.get(IDS[3] as string) as ScenarioResult;
    expect(parse.status).toBe('error');
    expect(parse.error).toMatchObject({ side: 'head', reason: 'exit' });
    expect(parse.error?.message).toMatch(/the test failed: AssertionError/);
    expect(parse.base.peak).toBeGreaterThan(0);

    const grow = tests.get(IDS[1] as string) as ScenarioResult;
    expect(grow.error).toMatchObject({ side: 'head', reason: 'memory-limit' });
    expect(grow.error?.message).toMatch(/over memory limit \(256 MiB\): MemoryError/);
    expect(grow.error?.tail.join('\n')).toMatch(/bytearray\(1_000_000\)|MemoryError/);
    expect(grow.base.peak).toBeGreaterThan(900_000);

    expect(tests.get('tests/test_mem.py::test_new')?.status).toBe('no-baseline');
    for (const id of [IDS[0], IDS[4], IDS[5]]) expect(tests.get(id as string)?.status).toBe('ok');
  });

  it('reports a collection error on head as one error for the pytest scenario', async () => {
    const r = await compare(options(3));
    expect(r.verdict).toBe('error');
    expect(r.scenarios).toHaveLength(1);
    expect(r.scenarios[0]?.name).toBe('pytest tests');
    expect(r.scenarios[0]?.error?.message).toMatch(/pytest could not collect tests\/test_broken\.py/);
  });

  it('runs from the command line with --pytest and prints the same report', async () => {
    const r = await runCliInProcess(
      [
        'compare',
        '--repo',
        repo.dir,
        '--base',
        repo.shas[0] as string,
        '--head',
        repo.shas[1] as string,
        '--pytest',
        'tests -k "leak or parse"',
        '--python',
        python,
        '--no-cache',
        '--budget',
        'retained: +64KiB',
      ],
      { reportDir: tmp, markdown: true },
    );
    expect(r.code).toBe(1);
    expect(r.report.scenarios.map((s) => s.name)).toEqual([IDS[2], IDS[3]]);
    expect(r.report.scenarios.filter(failed).map((s) => s.name)).toEqual([IDS[2]]);
    expect(r.report.settings?.command).toContain(`--pytest 'tests -k "leak or parse"'`);
    expect(r.markdown).toContain('test_leak');
  });

  it('makes every test no-baseline, without a base error, when base does not have the tests yet', async () => {
    const o = options(4);
    o.plan = resolvePlan({
      config: { text: 'scenarios:\n  - pytest: tests/extra\n', file: '.memdelta.yml' },
      flags: { python },
    });
    const r = await compare(o);
    expect(r.scenarios.map((s) => [s.name, s.status, s.baseError])).toEqual([
      ['tests/extra/test_extra.py::test_e', 'no-baseline', undefined],
    ]);
  });

  it('reports an error, not a pass, when every selected test was skipped', async () => {
    const o = options(4);
    o.plan = resolvePlan({
      config: { text: 'scenarios:\n  - pytest: tests/extra/test_skipped.py\n', file: '.memdelta.yml' },
      flags: { python },
    });
    const r = await compare(o);
    expect(r.verdict).toBe('error');
    expect(r.scenarios.map((s) => [s.name, s.status, s.error?.message])).toEqual([
      ['pytest tests/extra/test_skipped.py', 'error', 'no test ran on head: pytest collected 1, 1 skipped'],
    ]);
  });

  it('shows a test skipped on base as new, without a base error, and leaves out an xfail that never ran', async () => {
    const o = options(6);
    o.baseRef = repo.shas[5] as string;
    o.plan = resolvePlan({
      config: { text: 'scenarios:\n  - pytest: tests/marks\n', file: '.memdelta.yml' },
      flags: { python },
    });
    const r = await compare(o);
    expect(r.scenarios.map((s) => [s.name, s.status, s.baseError, s.error])).toEqual([
      ['tests/marks/test_marks.py::test_toggle', 'no-baseline', undefined, undefined],
    ]);
  });

  it('reports a broken pytest run once across shards, so the shards still aggregate', async () => {
    const parts = [];
    for (const index of [1, 2]) {
      parts.push({
        name: `part-${index}`,
        report: await compare(options(3, { shard: { index, count: 2 } })),
      });
    }
    expect(parts.map((p) => p.report.scenarios.length).sort()).toEqual([0, 1]);
    const merged = aggregateReports(parts);
    expect(merged.verdict).toBe('error');
    expect(merged.scenarios.map((s) => s.name)).toEqual(['pytest tests']);
    expect(merged.scenarios[0]?.error?.message).toMatch(/could not collect tests\/test_broken\.py/);
  });

  it('says pytest is missing instead of installing it', async () => {
    const o = options(1);
    o.plan = { ...o.plan, python: join(noPytest, 'bin', 'python3') };
    const r = await compare(o);
    expect(r.verdict).toBe('error');
    expect(r.scenarios[0]?.error?.message).toMatch(/pytest is not installed for .*never installs it/);
  });
});
