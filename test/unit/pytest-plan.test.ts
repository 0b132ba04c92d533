/** pytest scenarios in the plan, the pytest argv memdelta builds, and validation of the plugin's run file. */
import { describe, expect, it } from 'vitest';
import { ConfigError, resolvePlan } from '../../src/plan/config.js';
import { parsePytestTarget, TargetError } from '../../src/plan/target.js';
import { parsePytestRun } from '../../src/report/pytest-schema.js';
import { InvalidReportError } from '../../src/report/schema.js';
import { pytestArgs } from '../../src/run/probe.js';

const file = '.memdelta.yml';
const plan = (text: string, flags = {}) => resolvePlan({ config: { text, file }, flags });

describe('pytest scenarios', () => {
  it('resolves a pytest scenario with the defaults and a name of its own', () => {
    const p = plan(`defaults:
  budgets: { peak: +2% }
  memory-limit: 1GiB
scenarios:
  - pytest: tests/memory -k "not slow"
  - name: bench
    run: bench.py
`);
    const [tests, bench] = p.scenarios;
    expect(tests?.name).toBe('pytest tests/memory -k "not slow"');
    expect(tests?.target).toEqual({
      kind: 'pytest',
      spec: 'tests/memory -k "not slow"',
      args: ['tests/memory', '-k', 'not slow'],
    });
    expect(tests?.iterations).toBe(1);
    expect(tests?.memoryLimit).toBe(1024 ** 3);
    expect(tests?.budgets.find((b) => b.metric === 'peak')?.value).toBeCloseTo(0.02);
    expect(bench?.target.kind).toBe('script');
  });

  it('takes --pytest instead of a config', () => {
    const p = resolvePlan({ flags: { pytest: 'tests' } });
    expect(p.scenarios[0]?.target).toMatchObject({ kind: 'pytest', args: ['tests'] });
    expect(() => resolvePlan({ flags: { pytest: 'tests', run: 'bench.py' } })).toThrow(/use one of/);
  });

  it.each([
    ['  - name: x\n', /either "run" .* or "pytest"/],
    ['  - name: x\n    run: a.py\n    pytest: tests\n', /either "run" .* or "pytest"/],
    ['  - run: a.py\n', /needs a "name"/],
    ['  - pytest: tests\n    iterations: 5\n', /iterations: not for a pytest scenario \(mark the test/],
    ['  - pytest: tests\n    setup-callable: a:b\n', /setup-callable: not for a pytest scenario/],
    ['  - pytest: tests\n  - pytest: tests\n', /"pytest tests" is used twice/],
    ['  - pytest: --memdelta-out=/tmp/x\n', /scenarios\[0\]\.pytest: the pytest argument/],
  ])('refuses %j', (scenario, message) => {
    expect(() => plan(`scenarios:\n${scenario}`)).toThrow(ConfigError);
    expect(() => plan(`scenarios:\n${scenario}`)).toThrow(message);
  });
});

describe('parsePytestTarget', () => {
  it.each([
    ['--rootdir=/'],
    ['--memdelta-hints h.json'],
    ['-p no:memdelta_probe.pytest_plugin'],
    ['-pno:memdelta_probe'],
    ['-n 4'],
    ['-n4'],
    ['-p xdist'],
    ['--collect-only'],
    ['/etc/tests'],
    ['../outside/tests'],
    ['tests/../../x::test_y'],
    [''],
  ])('refuses %j', (args) => {
    expect(() => parsePytestTarget(args)).toThrow(TargetError);
  });

  it('keeps options and selections pytest users write', () => {
    const t = parsePytestTarget(`tests -k 'not slow' -m memory -p no:randomly -x tests/test_a.py::test_b[1]`);
    expect(t.args).toEqual([
      'tests',
      '-k',
      'not slow',
      '-m',
      'memory',
      '-p',
      'no:randomly',
      '-x',
      'tests/test_a.py::test_b[1]',
    ]);
  });

  it('puts memdelta options before the selection and roots test ids at the worktree', () => {
    const args = pytestArgs({
      python: 'python3',
      probeDir: '/probe',
      root: '/wt/head',
      target: parsePytestTarget('tests -k mem'),
      out: '/r/out.json',
      frames: 4,
      hintsFile: '/r/h.json',
      shard: { index: 2, count: 3 },
      extraEnv: {},
      timeoutMs: 1000,
    });
    expect(args.slice(0, 4)).toEqual(['-m', 'pytest', '-p', 'memdelta_probe.pytest_plugin']);
    expect(args.slice(-3)).toEqual(['tests', '-k', 'mem']);
    const opt = (name: string) => args[args.indexOf(name) + 1];
    expect(opt('--rootdir')).toBe('/wt/head');
    expect(opt('--memdelta-out')).toBe('/r/out.json');
    expect(opt('--memdelta-hints')).toBe('/r/h.json');
    expect(opt('--memdelta-shard')).toBe('2/3');
    expect(opt('-o')).toBe('cache_dir=/r/out.cache');
    expect(args).toContain('no:randomly');
  });
});

function probeReport(id: string, extra: Record<string, unknown> = {}) {
  return {
    schema: 'memdelta/probe@1',
    probe_version: '1.0.0',
    python: { version: '3.11.7', implementation: 'CPython' },
    target: { kind: 'pytest', spec: id, args: [] },
    settings: { frames: 4, iterations: 1, warmup: 0, peak_sites: false, tolerance: 0.01, mode: 'traced' },
    exit_code: 0,
    error: null,
    wall_time: 0.01,
    peak: 1000,
    peak_sites_total: null,
    retained: 0,
    leak: null,
    rss: null,
    sites: [],
    other: { sites: 0, peak: 0, retained: 0, count: 0 },
    gc: null,
    ...extra,
  };
}

function run(tests: unknown[], extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    schema: 'memdelta/pytest@1',
    probe_version: '1.0.0',
    python: { version: '3.11.7', implementation: 'CPython' },
    pytest_version: '9.0.3',
    exit_code: 0,
    collected: tests.length,
    errors: [],
    tests,
    ...extra,
  });
}

const test = (id: string, report: unknown = probeReport(id)) => ({
  id,
  index: 0,
  outcome: 'passed',
  phase: 'call',
  error: null,
  report,
});

describe('parsePytestRun', () => {
  it('accepts a run and validates each test report', () => {
    const r = parsePytestRun(run([test('tests/a.py::t'), test('tests/a.py::u', null)]));
    expect(r.tests.map((t) => t.report?.peak ?? null)).toEqual([1000, null]);
  });

  it.each([
    ['a test id that leaves the repository', run([test('../x.py::t')]), /tests\.0\.id/],
    ['an absolute test id', run([test('/etc/x.py::t')]), /tests\.0\.id/],
    ['a test listed twice', run([test('t.py::a'), test('t.py::a')]), /twice/],
    ["another test's report", run([test('t.py::a', probeReport('t.py::b'))]), /not the report of t\.py::a/],
    [
      'a forged negative peak in a test report',
      run([test('t.py::a', probeReport('t.py::a', { peak: -1 }))]),
      /tests\.0\.report\.peak/,
    ],
    ['an unknown outcome', run([{ ...test('t.py::a'), outcome: 'great' }]), /outcome/],
    ['an unknown key', run([], { extra: 1 }), /top level|extra/],
    ['not JSON', '{', /not valid JSON/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parsePytestRun(text)).toThrow(InvalidReportError);
    expect(() => parsePytestRun(text)).toThrow(message);
  });
});
