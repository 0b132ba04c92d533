/**
 * The disk fills up while the CLI writes its report: `--json` on a full 64 KiB tmpfs, and on /dev/full. The CLI
 * says why in one line, exits 2, and leaves no half-written report (or temporary file) behind; /dev/full stays
 * the device it was.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRepo, makeTempDir, type TestRepo } from '../support/git-repo.js';
import { baseEnv, runCli } from './support.js';

let repo: TestRepo;
let tmp: string;
let full: string;
let mounted = false;

beforeAll(async () => {
  tmp = await makeTempDir('memdelta-adv-disk-');
  full = join(tmp, 'full');
  await mkdir(full);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full], { stdio: 'ignore' });
    mounted = true;
    // Fill it to the last block: the report cannot fit.
    await writeFile(join(full, 'filler'), Buffer.alloc(256 * 1024)).catch(() => undefined);
  } catch {
    mounted = false;
  }
  repo = await makeRepo([
    { files: { 'bench.py': 'x = [0] * 1000\n' }, message: 'base' },
    { files: { 'bench.py': 'x = [0] * 2000\n' }, message: 'head' },
  ]);
});

afterAll(async () => {
  if (mounted) execFileSync('umount', [full]);
  await repo?.remove();
  await rm(tmp, { recursive: true, force: true });
});

describe('disk full while writing the report', () => {
  it('on a full file system: a clear error, exit 2, and no report or temporary file left', async () => {
    // Without a tmpfs (no privilege to mount), the same path is on /dev/full's side of the test below.
    const target = mounted ? join(full, 'report.json') : '/dev/full';
    const r = await runCli(
      ['compare', '--base', 'HEAD~1', '--run', 'bench.py', '--json', target, '--quiet'],
      {
        cwd: repo.dir,
        env: baseEnv(),
      },
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`memdelta: cannot write ${target}: no space left on the device (ENOSPC)`);
    expect(r.stderr).not.toContain('unexpected error');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    if (mounted) expect((await readdir(full)).sort()).toEqual(['filler']);
  });

  it('on /dev/full: the same error, and the device node is written to, never replaced', async () => {
    const r = await runCli(
      ['compare', '--base', 'HEAD~1', '--run', 'bench.py', '--json', '/dev/full', '--markdown', '/dev/full'],
      { cwd: repo.dir, env: baseEnv() },
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('memdelta: cannot write /dev/full: no space left on the device (ENOSPC)');
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
    expect((await readdir('/dev')).filter((f) => f.startsWith('full.'))).toEqual([]);
    expect(existsSync('/dev/full')).toBe(true);
  });
});
