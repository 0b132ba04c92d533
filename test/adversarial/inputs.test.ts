/**
 * Hostile refs, budgets and config files given to the CLI bundle: each is refused with a precise message and exit
 * status 2, before git or the benchmark runs anything.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepo, makeTempDir, type TestRepo } from '../support/git-repo.js';
import { baseEnv, runCli } from './support.js';

// The benchmark leaves a mark in TMPDIR whenever it runs, so a refused run can prove nothing ran.
const BENCH =
  'import os, tempfile\nopen(os.path.join(tempfile.gettempdir(), "ran-%d" % os.getpid()), "w").close()\n';

let repo: TestRepo;
let tmp: string;
let marks: string;
const pwned = () => join(tmp, 'pwned');

beforeAll(async () => {
  tmp = await makeTempDir('memdelta-adv-inputs-');
  marks = join(tmp, 'marks');
  await mkdir(marks);
  repo = await makeRepo([
    { files: { 'bench.py': BENCH }, message: 'base' },
    { files: { 'bench.py': BENCH + 'x = [0] * 1000\n' }, message: 'head' },
  ]);
});

afterAll(async () => {
  await repo?.remove();
  const { rm } = await import('node:fs/promises');
  await rm(tmp, { recursive: true, force: true });
});

async function compare(args: string[]) {
  return runCli(['compare', '--run', 'bench.py', ...args], {
    cwd: repo.dir,
    env: baseEnv({ TMPDIR: marks }),
    measureRss: true,
  });
}

async function expectNothingRan() {
  expect(await readdir(marks)).toEqual([]);
  expect(existsSync(pwned())).toBe(false);
}

describe('hostile refs', () => {
  it('refuses a ref that git would read as --upload-pack, naming the reason', async () => {
    const r = await compare(['--base', `--upload-pack=touch ${pwned()}`, '--head', 'HEAD']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`ref "--upload-pack=touch ${pwned()}" starts with "-"`);
    expect(r.stderr).toContain('read by git as an option; refused');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    await expectNothingRan();
  });

  it('refuses a ref with shell metacharacters at the exact position', async () => {
    const r = await compare(['--base', 'HEAD~1', '--head', 'x;rm -rf ~']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ref "x;rm -rf ~" contains ";" at position 1; refused');
    await expectNothingRan();
  });
});

describe('hostile budgets and configs', () => {
  it('refuses a budget of 1e309MiB (infinite) as not a size', async () => {
    const r = await compare(['--base', 'HEAD~1', '--budget', 'peak: +1e309MiB']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--budget: budget "peak: +1e309MiB": "1e309MiB" is not a size');
    const ceiling = await compare(['--base', 'HEAD~1', '--budget', 'peak-max: 1e309MiB']);
    expect(ceiling.code).toBe(2);
    expect(ceiling.stderr).toContain('"1e309MiB" is not a size');
    await expectNothingRan();
  });

  it('refuses a billion-laughs YAML bomb quickly and in bounded memory', async () => {
    const levels = 'abcdefghi'.split('');
    const lines = [`a: &a [${Array(9).fill('"lol"').join(',')}]`];
    for (let i = 1; i < levels.length; i++) {
      const prev = levels[i - 1] as string;
      lines.push(`${levels[i]}: &${levels[i]} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    lines.push('scenarios: *i');
    await writeFile(join(tmp, 'bomb.yml'), lines.join('\n') + '\n');
    const r = await runCli(['compare', '--base', 'HEAD~1', '--config', join(tmp, 'bomb.yml')], {
      cwd: repo.dir,
      env: baseEnv({ TMPDIR: marks }),
      measureRss: true,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bomb\.yml: .*alias/i);
    expect(r.durationMs).toBeLessThan(10_000);
    expect(r.maxRss).toBeLessThan(300 * 1024 * 1024);
    await expectNothingRan();
  });

  it('refuses a 10 MB config by its size, without parsing it', async () => {
    const line = `  - run: bench.py  # ${'x'.repeat(80)}\n`;
    await writeFile(join(tmp, 'big.yml'), 'scenarios:\n' + line.repeat(Math.ceil(10_000_000 / line.length)));
    const r = await runCli(['compare', '--base', 'HEAD~1', '--config', join(tmp, 'big.yml')], {
      cwd: repo.dir,
      env: baseEnv({ TMPDIR: marks }),
      measureRss: true,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/big\.yml: .*over the 1048576-byte limit for a config/);
    expect(r.maxRss).toBeLessThan(300 * 1024 * 1024);
    await expectNothingRan();
  });

  it('still runs the same repository with sane inputs (the refusals above are not a broken setup)', async () => {
    // --no-cache: both sides must really run here, not base served from an earlier run's cache.
    const r = await compare(['--base', 'HEAD~1', '--quiet', '--no-cache']);
    expect([0, 1]).toContain(r.code);
    expect((await readdir(marks)).length).toBeGreaterThanOrEqual(2);
  });
});
