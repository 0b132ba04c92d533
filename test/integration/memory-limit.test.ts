/**
 * `memory-limit` end to end through the CLI: a head that allocates without bound under a 256 MiB limit ends as
 * error reason `memory-limit` with the MemoryError traceback, and base's numbers are still reported.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitedCommand, limitMethod } from '../../src/run/memory-limit.js';
import { runCliInProcess } from '../support/cli.js';
import { makeRepo, type TestRepo } from '../support/git-repo.js';

let out: string;
const repos: TestRepo[] = [];
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'memdelta-memlimit-'));
});
afterAll(async () => {
  await Promise.all(repos.map((r) => r.remove()));
  await rm(out, { recursive: true, force: true });
});

/** `memdelta compare --no-cache` in-process, with the report it wrote. */
function run(repo: string, args: string[]) {
  return runCliInProcess(['compare', '--repo', repo, '--no-cache', ...args], { reportDir: out });
}

const BASE = 'data = bytearray(20_000_000)\n';
const HEAD = 'kept = []\nwhile True:\n    kept.append(bytearray(1_000_000))\n';

describe('memory-limit', () => {
  it('ends a head that allocates without bound as "over memory limit", keeping base', async () => {
    const r = await makeRepo([
      {
        files: {
          'bench.py': BASE,
          '.memdelta.yml':
            'defaults:\n  memory-limit: 256MiB\nscenarios:\n  - name: grow\n    run: bench.py\n',
        },
      },
      { files: { 'bench.py': HEAD } },
    ]);
    repos.push(r);
    const { code, report } = await run(r.dir, ['--base', r.shas[0]!, '--head', r.shas[1]!]);
    expect(code).toBe(2);
    expect(report.verdict).toBe('error');
    const s = report.scenarios[0]!;
    expect(s.status).toBe('error');
    expect(s.error?.side).toBe('head');
    expect(s.error?.reason).toBe('memory-limit');
    expect(s.error?.message).toContain('over memory limit (256 MiB)');
    expect(s.error?.tail.join('\n')).toMatch(/MemoryError/);
    expect(s.error?.tail.join('\n')).toContain('bench.py');
    // base ran within the limit and is still reported
    expect(s.base.peak).toBeGreaterThanOrEqual(20_000_000);
    expect(s.detail?.base?.source).toBe('measured');
  });

  it('takes --memory-limit from the command line and passes a head within it', async () => {
    const r = await makeRepo([
      { files: { 'bench.py': BASE } },
      { files: { 'bench.py': BASE + 'more = 1\n' } },
    ]);
    repos.push(r);
    const { code, report } = await run(r.dir, [
      '--base',
      r.shas[0]!,
      '--head',
      r.shas[1]!,
      '--run',
      'bench.py',
      '--memory-limit',
      '256MiB',
    ]);
    expect(report.scenarios[0]?.error).toBeUndefined();
    expect(code).toBe(0);
    expect(report.settings?.command).toContain('--memory-limit 256MiB');
  });

  it('refuses a limit too small to start the interpreter, naming the flag', async () => {
    const r = await makeRepo([{ files: { 'bench.py': BASE } }]);
    repos.push(r);
    const { code, stderr } = await run(r.dir, [
      '--base',
      r.shas[0]!,
      '--run',
      'bench.py',
      '--memory-limit',
      '1MiB',
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('--memory-limit');
    expect(stderr).toContain('64MiB');
  });

  it('wraps the interpreter in prlimit on Linux and hands the limit to the probe elsewhere', () => {
    const args = ['-m', 'memdelta_probe', '--out', 'r.json', 'bench.py'];
    const here = limitMethod(process.env.PATH);
    if (process.platform === 'linux') expect(here.kind).toBe('prlimit');
    expect(limitedCommand('python3', args, 1024, { kind: 'prlimit', path: '/usr/bin/prlimit' })).toEqual({
      file: '/usr/bin/prlimit',
      args: ['--as=1024', '--', 'python3', ...args],
    });
    expect(limitedCommand('python3', args, 1024, limitMethod(undefined, 'darwin'))).toEqual({
      file: 'python3',
      args: ['-m', 'memdelta_probe', '--memory-limit', '1024', '--out', 'r.json', 'bench.py'],
    });
  });
});
