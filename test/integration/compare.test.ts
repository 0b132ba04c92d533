/**
 * The compare engine end to end through the CLI's own entry (`runCli`), with real git repositories, real worktrees
 * and the real probe on python3.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, runCliInProcess } from '../support/cli.js';
import { makeRepo, runGit, type TestRepo } from '../support/git-repo.js';

const repos: TestRepo[] = [];
let out: string;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'memdelta-compare-'));
});
afterAll(async () => {
  await Promise.all(repos.map((r) => r.remove()));
  await rm(out, { recursive: true, force: true });
});

/** Runs `memdelta compare` in-process; returns the exit status, the JSON report, the markdown and the output. */
function compareCli(repo: string, args: string[], env: Record<string, string> = {}) {
  return runCliInProcess(['compare', '--repo', repo, ...args], {
    reportDir: out,
    markdown: true,
    // A cache of this file's own, so no test reuses another's (or the user's) base reports.
    env: baseEnv({ XDG_CACHE_HOME: join(out, 'cache'), ...env }),
  });
}

async function repo(commits: Parameters<typeof makeRepo>[0]): Promise<TestRepo> {
  const r = await makeRepo(commits);
  repos.push(r);
  return r;
}

/** No worktree of memdelta's is registered or left on disk. */
async function expectNoWorktrees(r: TestRepo): Promise<void> {
  const list = await r.git('worktree', 'list', '--porcelain');
  expect(list.split('\n').filter((l) => l.startsWith('worktree '))).toHaveLength(1);
}

const WORK = `from __future__ import annotations

import json

CACHE: dict[str, str] = {}
KEPT: list = []


class Item:
    def __init__(self, n: int) -> None:
        self.n = n
        self.label = f"item-{n}"


def build(n: int) -> list:
    return [Item(i) for i in range(n)]


def encode(items: list) -> str:
    return json.dumps([{"n": i.n, "label": i.label} for i in items])


def helper_unrelated() -> int:
    return 1


def work() -> None:
    items = build(20_000)
    text = encode(items)
    CACHE["last"] = text[:100]
    buf = bytearray(2_000_000)
    del buf
`;

const BENCH = `from pkg.work import work

work()
`;

describe('memdelta compare', () => {
  it('fails a head that adds a leak and a bigger temporary, and points at both sites', async () => {
    const head = WORK.replace(
      '    buf = bytearray(2_000_000)\n',
      '    KEPT.append(bytearray(3_000_000))\n    buf = bytearray(30_000_000)\n',
    );
    const r = await repo([
      { files: { 'pkg/__init__.py': '', 'pkg/work.py': WORK, 'bench.py': BENCH }, message: 'base' },
      { files: { 'pkg/work.py': head }, message: 'head' },
    ]);
    const {
      code,
      report,
      markdown: md,
    } = await compareCli(r.dir, ['--base', r.shas[0]!, '--head', r.shas[1]!, '--run', 'bench.py']);
    expect(report.verdict).toBe('fail');
    expect(code).toBe(1);
    const s = report.scenarios[0]!;
    expect(s.status).toBe('ok');
    expect(s.delta.retained).toBeGreaterThan(2_900_000);
    expect(s.delta.peak).toBeGreaterThan(15_000_000);
    const headLines = head.split('\n');
    const leak = s.sites.find((x) => x.code.includes('KEPT.append'));
    expect(leak).toMatchObject({ file: 'pkg/work.py', function: 'work', status: 'new' });
    expect(headLines[leak!.line - 1]).toContain('KEPT.append(bytearray(3_000_000))');
    expect(leak!.retained.delta).toBeGreaterThan(2_900_000);
    const temp = s.sites.find((x) => x.code.includes('bytearray(30_000_000)'));
    expect(temp).toMatchObject({ file: 'pkg/work.py', function: 'work', status: 'new' });
    expect(temp!.peak.head).toBeGreaterThan(29_900_000);
    // Nothing else grew. A site may show a smaller share of the peak: the high-water moment moved from inside
    // encode() (its temporaries) to the new 30 MB buffer, so encode's temporaries are no longer part of it.
    const others = s.sites.filter((x) => x.status !== 'same' && !x.code.includes('bytearray'));
    for (const x of others) {
      expect(x.retained.delta, x.code).toBe(0);
      expect(x.peak.delta, x.code).toBeLessThan(0);
    }
    expect(s.sites.some((x) => x.status === 'same' && x.function === 'Item.__init__')).toBe(true);
    expect(s.budget.filter((b) => !b.ok).map((b) => b.rule)).toEqual(
      expect.arrayContaining(['peak: +5%', 'retained: +1MiB']),
    );
    expect(md).toContain('KEPT.append');
    await expectNoWorktrees(r);
  });

  it('passes A/A: the same commit twice, and a head that only moves code and renames a helper', async () => {
    const moved = WORK.replace(
      'import json\n',
      'import json\n\n# Comments and blank lines shift every line below.\n\n\n',
    )
      .replace('def build', '# build items\n\ndef build')
      .replace(/helper_unrelated/g, 'renamed_helper')
      .replace('    items = build(20_000)', '    # allocate\n\n    items = build(20_000)');
    const r = await repo([
      { files: { 'pkg/__init__.py': '', 'pkg/work.py': WORK, 'bench.py': BENCH } },
      { files: { 'pkg/work.py': moved } },
    ]);
    for (const [base, head] of [
      [r.shas[0]!, r.shas[0]!],
      [r.shas[0]!, r.shas[1]!],
    ]) {
      const { code, report } = await compareCli(r.dir, [
        '--base',
        base!,
        '--head',
        head!,
        '--run',
        'bench.py',
      ]);
      expect(report.verdict).toBe('pass');
      expect(code).toBe(0);
      const s = report.scenarios[0]!;
      expect(s.sites.filter((x) => x.status !== 'same')).toEqual([]);
      expect(Math.abs(s.delta.peak)).toBeLessThanOrEqual(8192);
      expect(Math.abs(s.delta.retained)).toBeLessThanOrEqual(8192);
      expect(s.sites.length).toBeGreaterThan(2);
    }
  });

  it('fetches a base commit missing from a shallow clone', async () => {
    const r = await repo([
      { files: { 'pkg/__init__.py': '', 'pkg/work.py': WORK, 'bench.py': BENCH } },
      { files: { 'README.md': 'docs only\n' } },
    ]);
    const clone = join(out, 'shallow');
    await runGit(out, 'clone', '-q', '--depth=1', `file://${r.dir}`, clone);
    await expect(runGit(clone, 'cat-file', '-e', `${r.shas[0]}^{commit}`)).rejects.toThrow();
    const { code, report } = await compareCli(clone, [
      '--base',
      r.shas[0]!,
      '--head',
      'HEAD',
      '--run',
      'bench.py',
    ]);
    expect(report.base.sha).toBe(r.shas[0]);
    expect(report.verdict).toBe('pass');
    expect(code).toBe(0);
  });

  it('reports a benchmark that does not exist on base as no-baseline and passes within absolute budgets', async () => {
    const r = await repo([
      { files: { 'pkg/__init__.py': '', 'pkg/work.py': WORK } },
      { files: { 'bench.py': BENCH } },
    ]);
    const { code, report } = await compareCli(r.dir, [
      '--base',
      r.shas[0]!,
      '--head',
      r.shas[1]!,
      '--run',
      'bench.py',
      '--budget',
      'peak-max: 512MiB',
    ]);
    const s = report.scenarios[0]!;
    expect(s.status).toBe('no-baseline');
    expect(s.head.peak).toBeGreaterThan(1_000_000);
    expect(s.budget.map((b) => b.rule)).toEqual(['peak-max: 512MiB']);
    expect(report.verdict).toBe('pass');
    expect(code).toBe(0);
  });

  it('turns a head that raises into verdict error with the exception in the JSON and markdown', async () => {
    const r = await repo([
      { files: { 'pkg/__init__.py': '', 'pkg/work.py': WORK, 'bench.py': BENCH } },
      { files: { 'bench.py': BENCH + '\nraise RuntimeError("ledger totals do not balance")\n' } },
    ]);
    const {
      code,
      report,
      markdown: md,
    } = await compareCli(r.dir, ['--base', r.shas[0]!, '--head', r.shas[1]!, '--run', 'bench.py']);
    expect(code).toBe(2);
    expect(report.verdict).toBe('error');
    const s = report.scenarios[0]!;
    expect(s.status).toBe('error');
    expect(s.error?.side).toBe('head');
    expect(s.error?.message).toContain('RuntimeError: ledger totals do not balance');
    expect(s.error?.tail.join('\n')).toContain('ledger totals do not balance');
    expect(s.base.peak).toBeGreaterThan(0); // base is still reported
    expect(md).toContain('ledger totals do not balance');
  });

  it('kills a runaway benchmark and its grandchild at the timeout', async () => {
    const marker = `memdelta-sleep-${process.pid}-${Date.now()}`;
    const runaway = `import subprocess, sys
subprocess.Popen(["sh", "-c", "exec -a ${marker} sleep 1000"])
while True:
    pass
`;
    const r = await repo([{ files: { 'bench.py': 'x = 1\n' } }, { files: { 'bench.py': runaway } }]);
    const { code, report } = await compareCli(r.dir, [
      '--base',
      r.shas[0]!,
      '--head',
      r.shas[1]!,
      '--run',
      'bench.py',
      '--timeout',
      '3',
    ]);
    expect(code).toBe(2);
    expect(report.scenarios[0]?.error?.reason).toBe('timeout');
    const alive = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker);
        } catch {
          return false;
        }
      });
    expect(alive).toEqual([]);
    await expectNoWorktrees(r);
  });

  it('never lets the benchmark see tokens or workflow-command files from memdelta’s environment', async () => {
    const dump = join(out, 'environ.json');
    const bench = `import json, os, sys\njson.dump(dict(os.environ), open(sys.argv[1], "w"))\n`;
    const r = await repo([{ files: { 'bench.py': bench } }]);
    const { code, stderr } = await compareCli(
      r.dir,
      ['--base', r.shas[0]!, '--head', r.shas[0]!, '--run', `bench.py ${dump}`],
      {
        'INPUT_GITHUB-TOKEN': 'ghs_input',
        GITHUB_TOKEN: 'ghs_token',
        GH_TOKEN: 'gh_token',
        ACTIONS_RUNTIME_TOKEN: 'runtime',
        ACTIONS_ID_TOKEN_REQUEST_URL: 'https://token.invalid',
        GITHUB_ENV: '/tmp/env',
        GITHUB_OUTPUT: '/tmp/out',
        GITHUB_STEP_SUMMARY: '/tmp/summary',
        RUNNER_TRACKING_ID: 'github_123',
      },
    );
    expect(code, stderr).toBe(0);
    const env = JSON.parse(await readFile(dump, 'utf8')) as Record<string, string>;
    for (const name of [
      'INPUT_GITHUB-TOKEN',
      'GITHUB_TOKEN',
      'GH_TOKEN',
      'ACTIONS_RUNTIME_TOKEN',
      'ACTIONS_ID_TOKEN_REQUEST_URL',
      'GITHUB_ENV',
      'GITHUB_OUTPUT',
      'GITHUB_STEP_SUMMARY',
    ]) {
      expect(env[name], name).toBeUndefined();
    }
    expect(JSON.stringify(env)).not.toMatch(/ghs_|gh_token|runtime/);
    expect(env.RUNNER_TRACKING_ID).toBe('github_123');
    expect(env.PYTHONHASHSEED).toBe('0');
  });

  it('gives identical numbers in parallel and in sequence, and leaves no worktree even after a crash', async () => {
    const r = await repo([
      { files: { 'pkg/__init__.py': '', 'pkg/work.py': WORK, 'bench.py': BENCH } },
      { files: { 'pkg/work.py': WORK.replace('bytearray(2_000_000)', 'bytearray(30_000_000)') } },
    ]);
    // Both measure every side (no cache), once side by side and once one after the other.
    const args = ['--base', r.shas[0]!, '--head', r.shas[1]!, '--run', 'bench.py', '--no-cache'];
    const parallel = await compareCli(r.dir, args);
    const sequential = await compareCli(r.dir, [...args, '--sequential']);
    const [p, q] = [parallel.report.scenarios[0]!, sequential.report.scenarios[0]!];
    // Totals: address layout moves a block of about a hundred bytes between runs (PROBE-NOTES), parallel or not.
    for (const k of ['peak', 'retained'] as const) {
      expect(Math.abs(q.base[k] - p.base[k]), `base ${k}`).toBeLessThanOrEqual(512);
      expect(Math.abs(q.head[k] - p.head[k]), `head ${k}`).toBeLessThanOrEqual(512);
    }
    expect(q.detail?.base?.source).toBe('measured');
    // Sites come from the breakdown pass, whose hook moves a few hundred bytes between any two runs (parallel or
    // not; measured up to 176 B): the same sites, statuses and lines, numbers within 512 B.
    const key = (x: (typeof p.sites)[number]) => `${x.file}:${x.line}:${x.status}`;
    expect(q.sites.map(key).sort()).toEqual(p.sites.map(key).sort());
    for (const x of q.sites) {
      const y = p.sites.find((s) => key(s) === key(x))!;
      expect(Math.abs(x.peak.head - y.peak.head), key(x)).toBeLessThanOrEqual(512);
      expect(Math.abs(x.retained.head - y.retained.head), key(x)).toBeLessThanOrEqual(512);
    }
    expect(parallel.report.scenarios[0]?.detail?.head?.peakSites).toBe(true);
    await expectNoWorktrees(r);
    // A crash (the probe is killed from outside) still removes the worktrees.
    const crashing = await repo([
      { files: { 'bench.py': 'x = 1\n' } },
      { files: { 'bench.py': 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n' } },
    ]);
    const crashed = await compareCli(crashing.dir, [
      '--base',
      crashing.shas[0]!,
      '--head',
      crashing.shas[1]!,
      '--run',
      'bench.py',
    ]);
    expect(crashed.report.scenarios[0]?.error?.reason).toBe('oom');
    expect(crashed.code).toBe(2);
    await expectNoWorktrees(crashing);
  });

  it('explains a bad ref, a bad budget and a missing config with exit status 2 and a JSON error', async () => {
    const r = await repo([{ files: { 'bench.py': 'x = 1\n' } }]);
    const pwned = join(out, 'pwned');
    const bad = await compareCli(r.dir, ['--base', `--upload-pack=touch ${pwned}`, '--run', 'bench.py']);
    expect(bad.code).toBe(2);
    expect(bad.report.verdict).toBe('error');
    expect(bad.report.error).toMatch(/--upload-pack/);
    expect(existsSync(pwned)).toBe(false);
    const budget = await compareCli(r.dir, ['--base', 'HEAD', '--run', 'bench.py', '--budget', 'peak: 5 %%']);
    expect(budget.code).toBe(2);
    expect(budget.report.error).toMatch(/--budget: .*"5 %%" is not a growth/);
    const noConfig = await compareCli(r.dir, ['--base', 'HEAD']);
    expect(noConfig.report.error).toMatch(/no \.memdelta\.yml/);
  });
});
