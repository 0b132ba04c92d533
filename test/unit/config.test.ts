import { describe, expect, it } from 'vitest';
import { ConfigError, resolvePlan } from '../../src/plan/config.js';
import { parseTarget } from '../../src/plan/target.js';

const file = '.memdelta.yml';
const plan = (text: string, flags = {}) => resolvePlan({ config: { text, file }, flags });

describe('.memdelta.yml', () => {
  it('resolves scenarios with defaults, flags and per-scenario overrides in that order', () => {
    const p = plan(
      `python: python3.12
frames: 6
defaults:
  iterations: 30
  budgets:
    peak: +10%
    warn:
      retained: +256KiB
scenarios:
  - name: ingest
    run: ledger.bench:ingest
  - name: report
    run: report_big.py --rows 10
    budgets: ["peak: +1%"]
    min-delta: 16KiB
    timeout: 90s
`,
      { budgets: ['peak: +20%', 'peak-max: 1GiB'] },
    );
    expect(p.python).toBe('python3.12');
    expect(p.frames).toBe(6);
    const [ingest, report] = p.scenarios;
    expect(ingest?.target).toEqual({ kind: 'callable', spec: 'ledger.bench:ingest', args: [] });
    expect(ingest?.iterations).toBe(30);
    expect(ingest?.budgets.map((b) => b.text).sort()).toEqual([
      'leak: 16KiB/iter',
      'peak-max: 1GiB',
      'peak: +20%',
      'retained: +1MiB',
      'warn retained: +256KiB',
    ]);
    expect(report?.target).toEqual({ kind: 'script', spec: 'report_big.py', args: ['--rows', '10'] });
    expect(report?.iterations).toBe(1);
    expect(report?.budgets.find((b) => b.metric === 'peak')?.text).toBe('peak: +1%');
    expect(report?.minDelta.bytes).toBe(16384);
    expect(report?.timeoutMs).toBe(90_000);
  });

  it.each([
    [
      'scenarios:\n  - name: a\n    run: a.py\n    budgets:\n      peak: 5 %%\n',
      /^\.memdelta\.yml:5: scenarios\[0\]\.budgets\.peak: "5 %%" is not a growth/,
    ],
    [
      'scenarios:\n  - name: a\n    run: a.py\n  - name: a\n    run: b.py\n',
      /:4: scenarios\[1\]\.name: scenario name "a" is used twice/,
    ],
    [
      'scenarios:\n  - name: a\n    run: ../../etc/x.py\n',
      /:3: scenarios\[0\]\.run: script .* must not leave the repository/,
    ],
    ['scenarios:\n  - name: a\n    run: a.py\n    colour: red\n', /:2: scenarios\[0\]: unknown key "colour"/],
    ['frames: many\nscenarios: []\n', /:1: frames: /],
    ['scenarios:\n  - name: a\n  run: [\n', /\.memdelta\.yml:\d+: /],
    ['a: 1\na: 2\n', /:2: Map keys must be unique/],
  ])('names the line and key: %j', (text, message) => {
    expect(() => plan(text)).toThrow(ConfigError);
    expect(() => plan(text)).toThrow(message);
  });

  it('rejects a billion-laughs alias bomb quickly', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      lines.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    lines.push('scenarios:\n  - name: x\n    run: x.py');
    const started = process.hrtime.bigint();
    expect(() => plan(lines.join('\n'))).toThrow(/alias/i);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
  });

  it('rejects a 10 MB config with a precise message', () => {
    expect(() => plan('#'.repeat(10 * 1024 * 1024))).toThrow(/10485760 bytes, over the 1048576-byte limit/);
  });

  it('builds a one-scenario plan from --run and refuses mixing it with a config', () => {
    const p = resolvePlan({
      flags: { run: ['-m', 'ledger.cli', 'x'], budgets: ['warn peak: +1%'], minDelta: '4KiB 1%' },
    });
    expect(p.scenarios).toHaveLength(1);
    expect(p.scenarios[0]?.target).toEqual({ kind: 'module', spec: 'ledger.cli', args: ['x'] });
    expect(p.scenarios[0]?.minDelta).toEqual({ bytes: 4096, percent: 1 });
    expect(() => resolvePlan({ flags: { run: ['a.py'] }, config: { text: '', file } })).toThrow(
      /use one of --config, --run and --pytest/,
    );
    expect(() => resolvePlan({ flags: { run: ['a.py'], iterations: 'ten' } })).toThrow(/--iterations: "ten"/);
    expect(() => resolvePlan({ flags: { run: ['a.py'], budgets: ['peak: 1e309MiB'] } })).toThrow(
      /--budget: .*not a growth/,
    );
  });
});

describe('targets', () => {
  it('parses the three kinds and refuses the rest', () => {
    expect(parseTarget('bench/run.py --n "2 3"')).toEqual({
      kind: 'script',
      spec: 'bench/run.py',
      args: ['--n', '2 3'],
    });
    expect(parseTarget('pkg.mod:main')).toEqual({ kind: 'callable', spec: 'pkg.mod:main', args: [] });
    expect(() => parseTarget('')).toThrow(/empty/);
    expect(() => parseTarget('--upload-pack=x')).toThrow(/looks like an option/);
    expect(() => parseTarget('-m --evil')).toThrow(/module name/);
    expect(() => parseTarget('/etc/passwd.py')).toThrow(/not absolute/);
    expect(() => parseTarget('x;rm -rf ~')).toThrow(/is not a script/);
  });
});
