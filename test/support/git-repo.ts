/**
 * Builds real git repositories in temporary directories for tests:
 *
 *   const repo = await makeRepo([
 *     { files: { 'bench.py': 'x = 1\n' }, message: 'base' },
 *     { files: { 'bench.py': 'x = [0] * 10**6\n', 'old.py': null }, message: 'head' },
 *   ]);
 *   repo.shas; // one full SHA per commit, in order
 *   await repo.remove();
 *
 * A commit with `branch` is made on that branch, created (from commit `from`, by index, or from the current
 * HEAD) when it does not exist yet; later commits without `branch` stay on it.
 *
 * Each commit's `files` is applied on top of the previous commit (a string writes the file, null deletes
 * it). Identity, dates and signing are fixed on the command line, so no global git config is needed and
 * the same commits always get the same SHAs.
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';

export interface CommitSpec {
  /** Repo-relative path → content (written as UTF-8), or null to delete the file. */
  files: Record<string, string | null>;
  /** Defaults to `commit <n>`. */
  message?: string;
  /** Branch to commit on; created when missing. */
  branch?: string;
  /** Index of an earlier commit a new `branch` starts from; default the current HEAD. */
  from?: number;
}

export interface TestRepo {
  /** Absolute, symlink-free path of the repository. */
  dir: string;
  /** Full SHA of each commit, in the order given. */
  shas: string[];
  /** Runs git in the repository with the fixed identity; resolves to trimmed stdout. */
  git: (...args: string[]) => Promise<string>;
  /** Deletes the repository (and its temporary parent). */
  remove: () => Promise<void>;
}

const IDENTITY = [
  '-c',
  'user.name=memdelta test',
  '-c',
  'user.email=test@memdelta.invalid',
  '-c',
  'commit.gpgsign=false',
  '-c',
  'tag.gpgsign=false',
  '-c',
  'init.defaultBranch=main',
  '-c',
  'core.hooksPath=/dev/null',
];

/** Runs git with the test identity in `cwd`. */
export async function runGit(cwd: string, ...args: string[]): Promise<string> {
  const result = await execa('git', [...IDENTITY, ...args], {
    cwd,
    stdin: 'ignore',
    env: { GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z' },
  });
  return result.stdout;
}

/** A fresh empty temporary directory (symlinks resolved, so paths compare equal to what git prints). */
export async function makeTempDir(prefix = 'memdelta-test-'): Promise<string> {
  return realpath(await mkdtemp(join(tmpdir(), prefix)));
}

/** Creates a repository with one commit per spec on branch `main`. */
export async function makeRepo(commits: CommitSpec[]): Promise<TestRepo> {
  const parent = await makeTempDir();
  const dir = join(parent, 'repo');
  await mkdir(dir);
  const git = (...args: string[]): Promise<string> => runGit(dir, ...args);
  await git('init', '--quiet');
  const shas: string[] = [];
  for (const [index, commit] of commits.entries()) {
    if (commit.branch !== undefined) {
      const exists = await git('branch', '--list', commit.branch);
      if (exists.trim() !== '') await git('checkout', '--quiet', commit.branch);
      else {
        const start = commit.from !== undefined ? shas[commit.from] : undefined;
        await git('checkout', '--quiet', '-b', commit.branch, ...(start ? [start] : []));
      }
    }
    for (const [path, content] of Object.entries(commit.files)) {
      const file = join(dir, path);
      if (content === null) {
        await git('rm', '--quiet', '--', path);
      } else {
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, content);
        await git('add', '--', path);
      }
    }
    await git('commit', '--quiet', '--allow-empty', '-m', commit.message ?? `commit ${index + 1}`);
    shas.push(await git('rev-parse', 'HEAD'));
  }
  return { dir, shas, git, remove: () => rm(parent, { recursive: true, force: true }) };
}
