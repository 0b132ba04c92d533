import { existsSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanups } from '../../src/run/cleanup.js';
import { makeGit, type Git } from '../../src/run/git.js';
import {
  checkRef,
  defaultBranch,
  makeWorktrees,
  mergeBase,
  resolveCommit,
  withWorktrees,
  type Worktrees,
} from '../../src/run/worktree.js';
import { makeRepo, makeTempDir, runGit, type TestRepo } from '../support/git-repo.js';

const repos: TestRepo[] = [];
const dirs: string[] = [];
/** Worktrees a failing test may leave behind; dispose() is idempotent. */
const trees: Worktrees[] = [];
async function track(made: Promise<Worktrees>): Promise<Worktrees> {
  const wt = await made;
  trees.push(wt);
  return wt;
}
afterEach(async () => {
  for (const t of trees.splice(0)) await t.dispose();
  for (const r of repos.splice(0)) await r.remove();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function twoCommits(): Promise<TestRepo> {
  const repo = await makeRepo([
    { files: { 'bench.py': 'x = 1\n', 'old.py': 'gone = True\n' }, message: 'base' },
    { files: { 'bench.py': 'x = [0] * 1000\n', 'old.py': null }, message: 'head' },
  ]);
  repos.push(repo);
  return repo;
}

/** Everything about the user's checkout that memdelta must not change. */
async function checkoutState(repo: TestRepo) {
  return {
    head: await repo.git('rev-parse', 'HEAD'),
    symbolic: await repo.git('symbolic-ref', 'HEAD'),
    status: await repo.git('status', '--porcelain=v1', '--untracked-files=all'),
    staged: await repo.git('diff', '--cached'),
    unstaged: await repo.git('diff'),
    bench: readFileSync(join(repo.dir, 'bench.py'), 'utf8'),
  };
}

async function registered(git: Git): Promise<string[]> {
  return (await git(['worktree', 'list', '--porcelain']))
    .split('\n')
    .filter((l) => l.startsWith('worktree '))
    .map((l) => l.slice('worktree '.length))
    .sort();
}

/** Worktree listings come in the order of git's admin folders on disk, so compare them sorted. */
const sorted = (paths: string[]) => [...paths].sort();

describe('makeWorktrees', () => {
  it('checks out base and head detached at equal-length paths and leaves the user checkout alone', async () => {
    const repo = await twoCommits();
    // A user mid-work: a staged change, an unstaged change and an untracked file.
    await writeFile(join(repo.dir, 'notes.txt'), 'untracked\n');
    await writeFile(join(repo.dir, 'staged.py'), 'y = 2\n');
    await repo.git('add', 'staged.py');
    await writeFile(join(repo.dir, 'bench.py'), 'x = "local edit"\n');
    const before = await checkoutState(repo);
    const registry = new Cleanups();
    const git = makeGit(repo.dir);

    const wt = await track(makeWorktrees(git, { baseSha: repo.shas[0]!, headSha: repo.shas[1]!, registry }));
    expect(wt.base.length).toBe(wt.head.length);
    expect(wt.base).not.toBe(wt.head);
    expect(registry.size).toBe(1);
    expect(readFileSync(join(wt.base, 'bench.py'), 'utf8')).toBe('x = 1\n');
    expect(readFileSync(join(wt.head, 'bench.py'), 'utf8')).toBe('x = [0] * 1000\n');
    expect(existsSync(join(wt.base, 'old.py'))).toBe(true);
    expect(existsSync(join(wt.head, 'old.py'))).toBe(false);
    expect(existsSync(join(wt.head, 'notes.txt'))).toBe(false);
    expect((await runGit(wt.base, 'rev-parse', 'HEAD')).trim()).toBe(repo.shas[0]);
    expect((await runGit(wt.head, 'rev-parse', 'HEAD')).trim()).toBe(repo.shas[1]);
    // Detached: HEAD is not a symbolic ref.
    await expect(runGit(wt.head, 'symbolic-ref', '-q', 'HEAD')).rejects.toThrow();
    expect(await checkoutState(repo)).toEqual(before);

    await wt.dispose();
    await wt.dispose(); // twice is fine
    expect(existsSync(wt.root)).toBe(false);
    expect(await registered(git)).toEqual(sorted([repo.dir]));
    expect(registry.size).toBe(0);
    expect(await checkoutState(repo)).toEqual(before);
  });

  it('makes two worktrees when base and head are the same commit', async () => {
    const repo = await twoCommits();
    const git = makeGit(repo.dir);
    await withWorktrees(git, { baseSha: repo.shas[1]!, headSha: repo.shas[1]! }, async (wt) => {
      expect(wt.base).not.toBe(wt.head);
      expect(readFileSync(join(wt.base, 'bench.py'), 'utf8')).toBe(
        readFileSync(join(wt.head, 'bench.py'), 'utf8'),
      );
      expect(await registered(git)).toEqual(sorted([repo.dir, wt.base, wt.head]));
    });
    expect(await registered(git)).toEqual(sorted([repo.dir]));
  });

  it('removes the worktrees when the code using them throws', async () => {
    const repo = await twoCommits();
    const git = makeGit(repo.dir);
    let root = '';
    await expect(
      withWorktrees(git, { baseSha: repo.shas[0]!, headSha: repo.shas[1]! }, async (wt) => {
        root = wt.root;
        await writeFile(join(wt.head, 'build-artifact.bin'), 'made by a setup command');
        throw new Error('benchmark exploded');
      }),
    ).rejects.toThrow('benchmark exploded');
    expect(root).not.toBe('');
    expect(existsSync(root)).toBe(false);
    expect(await registered(git)).toEqual(sorted([repo.dir]));
  });

  it('recovers from a crashed run whose temp folder was wiped (registration left behind)', async () => {
    const repo = await twoCommits();
    const git = makeGit(repo.dir);
    const crashed = await track(
      makeWorktrees(git, {
        baseSha: repo.shas[0]!,
        headSha: repo.shas[1]!,
        registry: new Cleanups(),
      }),
    );
    await rm(crashed.root, { recursive: true, force: true });
    expect(await registered(git)).toContain(crashed.head);

    const wt = await track(makeWorktrees(git, { baseSha: repo.shas[0]!, headSha: repo.shas[1]! }));
    expect(await registered(git)).toEqual(sorted([repo.dir, wt.base, wt.head]));
    await wt.dispose();
  });

  it('removes worktrees of a crashed run whose owner process is dead, keeps those of a live one', async () => {
    const repo = await twoCommits();
    const git = makeGit(repo.dir);
    const crashed = await track(
      makeWorktrees(git, {
        baseSha: repo.shas[0]!,
        headSha: repo.shas[1]!,
        registry: new Cleanups(),
      }),
    );
    const live = await track(
      makeWorktrees(git, {
        baseSha: repo.shas[0]!,
        headSha: repo.shas[1]!,
        registry: new Cleanups(),
      }),
    );
    // The crashed run's owner: a process that has exited.
    const gone = await execa('sh', ['-c', 'echo $$']);
    await writeFile(join(crashed.root, 'memdelta-owner.json'), JSON.stringify({ pid: Number(gone.stdout) }));
    // The live run's owner: a process that is still running (this test's parent, the vitest main process).
    await writeFile(join(live.root, 'memdelta-owner.json'), JSON.stringify({ pid: process.ppid }));

    const wt = await track(makeWorktrees(git, { baseSha: repo.shas[0]!, headSha: repo.shas[1]! }));
    expect(existsSync(crashed.root)).toBe(false);
    expect(existsSync(live.head)).toBe(true);
    expect(await registered(git)).toEqual(sorted([repo.dir, live.base, live.head, wt.base, wt.head]));
    await wt.dispose();
    await live.dispose();
    expect(await registered(git)).toEqual(sorted([repo.dir]));
  });

  it('refuses anything but full SHAs', async () => {
    const repo = await twoCommits();
    await expect(
      makeWorktrees(makeGit(repo.dir), { baseSha: 'main', headSha: repo.shas[1]! }),
    ).rejects.toThrow('base must be a full 40-hex SHA, got "main"');
  });
});

describe('refs', () => {
  it('refuses hostile or malformed refs with a precise message before running git', async () => {
    const repo = await twoCommits();
    const calls: string[][] = [];
    const real = makeGit(repo.dir);
    const git: Git = (args) => {
      calls.push(args);
      return real(args);
    };
    const cases: [string, string][] = [
      [
        '--upload-pack=touch /tmp/pwned',
        'ref "--upload-pack=touch /tmp/pwned" starts with "-" and would be read by git as an option; refused',
      ],
      ['x;rm -rf ~', 'ref "x;rm -rf ~" contains ";" at position 1; refused'],
      ['-c', 'ref "-c" starts with "-" and would be read by git as an option; refused'],
      ['', 'ref is empty; give a branch, tag or commit SHA'],
      ['main\nHEAD', 'ref "main\\nHEAD" contains a newline at position 4; refused'],
      ['main..HEAD', 'ref "main..HEAD" contains ".." (a range); give a single commit'],
      ['a b', 'ref "a b" contains a space at position 1; refused'],
      ['ma\u0000in', 'ref "ma\\u0000in" contains a control character (U+0000) at position 2; refused'],
    ];
    const pwnedBefore = existsSync('/tmp/pwned');
    for (const [ref, message] of cases) {
      await expect(resolveCommit(git, ref)).rejects.toThrow(message);
      expect(() => checkRef(ref)).toThrow(message);
    }
    await expect(mergeBase(git, '--output=/tmp/pwned', 'HEAD')).rejects.toThrow('starts with "-"');
    expect(calls).toEqual([]);
    if (!pwnedBefore) expect(existsSync('/tmp/pwned')).toBe(false);
  });

  it('accepts ordinary revision syntax and resolves to full SHAs', async () => {
    const repo = await twoCommits();
    const git = makeGit(repo.dir);
    expect(await resolveCommit(git, 'HEAD')).toBe(repo.shas[1]);
    expect(await resolveCommit(git, 'HEAD~1')).toBe(repo.shas[0]);
    expect(await resolveCommit(git, 'main^')).toBe(repo.shas[0]);
    expect(await resolveCommit(git, repo.shas[0]!.slice(0, 10))).toBe(repo.shas[0]);
    await expect(resolveCommit(git, 'no-such-branch')).rejects.toThrow(
      '"no-such-branch" does not name a commit in this repository',
    );
    // A tree is not a commit.
    const tree = await repo.git('rev-parse', 'HEAD^{tree}');
    await expect(resolveCommit(git, tree)).rejects.toThrow('does not name a commit');
  });

  it('fetches a base commit that a shallow clone lacks', async () => {
    const repo = await makeRepo([
      { files: { 'a.py': '1\n' }, message: 'one' },
      { files: { 'a.py': '2\n' }, message: 'two' },
      { files: { 'a.py': '3\n' }, message: 'three' },
    ]);
    repos.push(repo);
    // Fetching an unadvertised commit by SHA needs the server to allow it, as GitHub does.
    await repo.git('config', 'uploadpack.allowAnySHA1InWant', 'true');
    const parent = await makeTempDir();
    dirs.push(parent);
    const clone = join(parent, 'clone');
    await runGit(parent, 'clone', '--quiet', '--depth=1', `file://${repo.dir}`, clone);
    const git = makeGit(clone);
    await expect(git(['cat-file', '-e', `${repo.shas[0]}^{commit}`])).rejects.toThrow();
    expect(await resolveCommit(git, repo.shas[0]!, { backoffMs: 10 })).toBe(repo.shas[0]);
    expect(await resolveCommit(git, 'HEAD')).toBe(repo.shas[2]);
    await withWorktrees(git, { baseSha: repo.shas[0]!, headSha: repo.shas[2]! }, async (wt) => {
      expect(readFileSync(join(wt.base, 'a.py'), 'utf8')).toBe('1\n');
      expect(readFileSync(join(wt.head, 'a.py'), 'utf8')).toBe('3\n');
    });
    // A commit that exists nowhere: bounded retries, then a clear error.
    const missing = 'f'.repeat(40);
    await expect(resolveCommit(git, missing, { attempts: 2, backoffMs: 10 })).rejects.toThrow(
      `could not fetch "${missing}" from origin after 2 attempts`,
    );
  });

  it('finds the merge-base and the default branch', async () => {
    const repo = await makeRepo([
      { files: { 'a.py': '1\n' }, message: 'root' },
      { files: { 'a.py': '2\n' }, message: 'main moves on' },
      { files: { 'b.py': 'feature\n' }, message: 'feature', branch: 'feature', from: 0 },
    ]);
    repos.push(repo);
    const git = makeGit(repo.dir);
    expect(await mergeBase(git, 'main', 'feature')).toBe(repo.shas[0]);
    expect(await mergeBase(git, repo.shas[1]!, 'HEAD')).toBe(repo.shas[0]);
    expect(await defaultBranch(git)).toBe('main');

    const parent = await makeTempDir();
    dirs.push(parent);
    await runGit(parent, 'clone', '--quiet', `file://${repo.dir}`, 'clone');
    const cloneGit = makeGit(join(parent, 'clone'));
    expect(await defaultBranch(cloneGit)).toBe('origin/feature'); // the source repo's HEAD was on feature
    await cloneGit(['remote', 'set-head', 'origin', 'main']);
    expect(await defaultBranch(cloneGit)).toBe('origin/main');
  });
});
