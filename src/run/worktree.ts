/**
 * Commits to compare: ref validation and resolution, fetching what a shallow clone lacks, the merge-base and
 * default branch, and the two detached worktrees the probe runs in. The user's checkout (index, HEAD, working
 * files) is never touched: everything happens in a fresh temp folder registered as linked worktrees.
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { defaultCleanups, type Cleanups } from './cleanup.js';
import { GitError, type Git } from './git.js';

/** A ref that memdelta refuses to hand to git, or one that does not name a commit. */
export class RefError extends Error {
  override readonly name = 'RefError';
}

const SHA_RE = /^[0-9a-f]{40}$/;
const MAX_REF_LENGTH = 256;
/**
 * Characters git forbids in ref names (`\ ? * [ :`) plus shell metacharacters. No shell ever sees a ref, but a
 * ref carrying them is a mistake or an attack either way, so it is refused before git runs.
 */
const FORBIDDEN = new Set([
  '\\',
  '?',
  '*',
  '[',
  ':',
  ';',
  '|',
  '&',
  '$',
  '`',
  '<',
  '>',
  '(',
  ')',
  "'",
  '"',
  '!',
]);

function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (c === '\n') return 'a newline';
  if (c === '\r') return 'a carriage return';
  if (c === '\t') return 'a tab';
  if (c === ' ') return 'a space';
  if (code < 0x20 || code === 0x7f)
    return `a control character (U+${code.toString(16).padStart(4, '0').toUpperCase()})`;
  if (/\s/u.test(c)) return `whitespace (U+${code.toString(16).padStart(4, '0').toUpperCase()})`;
  return `"${c}"`;
}

/**
 * Throws a {@link RefError} with a precise message unless `ref` is safe to pass to git as a revision: non-empty,
 * at most 256 characters, not starting with `-` (it would be read as an option such as `--upload-pack=...`), and
 * free of control characters, whitespace, `..` (ranges) and the characters in {@link FORBIDDEN}.
 * `HEAD~2`, `main^`, `origin/main`, `v1.2.3` and `HEAD@{1}` pass.
 */
export function checkRef(ref: string, label = 'ref'): void {
  if (ref.length === 0) throw new RefError(`${label} is empty; give a branch, tag or commit SHA`);
  const shown = JSON.stringify(ref.length > 80 ? `${ref.slice(0, 80)}…` : ref);
  if (ref.length > MAX_REF_LENGTH) {
    throw new RefError(
      `${label} ${shown} is ${ref.length} characters long; at most ${MAX_REF_LENGTH} are accepted`,
    );
  }
  if (ref.startsWith('-')) {
    throw new RefError(`${label} ${shown} starts with "-" and would be read by git as an option; refused`);
  }
  let i = 0;
  for (const c of ref) {
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f || /\s/u.test(c) || FORBIDDEN.has(c)) {
      throw new RefError(`${label} ${shown} contains ${describeChar(c)} at position ${i}; refused`);
    }
    i += c.length;
  }
  if (ref.includes('..')) {
    throw new RefError(`${label} ${shown} contains ".." (a range); give a single commit`);
  }
}

/** Whether `s` is a full 40-hex commit SHA. */
export function isFullSha(s: string): boolean {
  return SHA_RE.test(s);
}

export interface ResolveOptions {
  /** Fetch from `origin` when the ref is not present locally (shallow clones). Default true. */
  fetch?: boolean;
  /** Fetch attempts before giving up. Default 3. */
  attempts?: number;
  /** Delay before the second attempt, doubled after each failure. Default 1000 ms. */
  backoffMs?: number;
}

async function revParse(git: Git, ref: string): Promise<string | undefined> {
  try {
    const out = (
      await git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`])
    ).trim();
    return out === '' ? undefined : out;
  } catch (e) {
    // --quiet: exit code 1 with no output means "no such object"; with output, an object that is no commit.
    if (e instanceof GitError && e.exitCode === 1) {
      if (e.stderr === '') return undefined;
      throw new RefError(
        `${JSON.stringify(ref)} does not name a commit: ${e.stderr.replace(/^error: /, '')}`,
      );
    }
    throw e;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Fetches one commit or ref from `origin` the way actions/checkout does in a shallow clone
 * (`fetch --no-tags --depth=1 origin <what>`), with bounded retries and exponential backoff.
 */
export async function fetchFromOrigin(git: Git, what: string, options: ResolveOptions = {}): Promise<void> {
  checkRef(what);
  const attempts = Math.max(1, options.attempts ?? 3);
  let delay = options.backoffMs ?? 1000;
  let last: unknown;
  for (let n = 1; n <= attempts; n++) {
    try {
      await git([
        '-c',
        'protocol.version=2',
        'fetch',
        '--no-tags',
        '--no-recurse-submodules',
        '--depth=1',
        'origin',
        what,
      ]);
      return;
    } catch (e) {
      last = e;
      if (n < attempts) {
        await sleep(delay);
        delay *= 2;
      }
    }
  }
  const why = last instanceof Error ? last.message : String(last);
  throw new RefError(
    `could not fetch ${JSON.stringify(what)} from origin after ${attempts} attempts: ${why}`,
  );
}

/**
 * Resolves `ref` to the full SHA of a commit. The ref is checked with {@link checkRef} before git runs. When it
 * is missing locally (a shallow clone), it is fetched from `origin` and resolved again.
 */
export async function resolveCommit(git: Git, ref: string, options: ResolveOptions = {}): Promise<string> {
  checkRef(ref);
  let sha = await revParse(git, ref);
  if (sha === undefined && options.fetch !== false && (await hasOrigin(git))) {
    await fetchFromOrigin(git, ref, options);
    // A SHA is present after the fetch; a branch or tag name lands in FETCH_HEAD.
    sha = isFullSha(ref) ? await revParse(git, ref) : await revParse(git, 'FETCH_HEAD');
  }
  if (sha === undefined) {
    throw new RefError(`${JSON.stringify(ref)} does not name a commit in this repository`);
  }
  if (!isFullSha(sha))
    throw new RefError(`git resolved ${JSON.stringify(ref)} to ${JSON.stringify(sha)}, not a SHA`);
  return sha;
}

async function hasOrigin(git: Git): Promise<boolean> {
  const remotes = (await git(['remote'])).split('\n').map((s) => s.trim());
  return remotes.includes('origin');
}

/**
 * The best common ancestor of two commits. In a shallow clone the history is deepened from `origin` a few times
 * before giving up, with a message that says how to fix the checkout.
 */
export async function mergeBase(git: Git, a: string, b: string): Promise<string> {
  checkRef(a);
  checkRef(b);
  const attempt = async (): Promise<string | undefined> => {
    try {
      const out = (await git(['merge-base', '--end-of-options', a, b])).trim();
      return isFullSha(out) ? out : undefined;
    } catch (e) {
      if (e instanceof GitError && e.exitCode === 1) return undefined;
      throw e;
    }
  };
  let found = await attempt();
  if (found) return found;
  const shallow = (await git(['rev-parse', '--is-shallow-repository'])).trim() === 'true';
  if (shallow && (await hasOrigin(git))) {
    for (const depth of [50, 500]) {
      await git(['fetch', '--no-tags', '--no-recurse-submodules', `--deepen=${depth}`, 'origin']);
      found = await attempt();
      if (found) return found;
    }
    await git(['fetch', '--no-tags', '--no-recurse-submodules', '--unshallow', 'origin']);
    found = await attempt();
    if (found) return found;
  }
  throw new RefError(
    `${a} and ${b} have no common ancestor` +
      (shallow ? ' in this shallow clone (check out with fetch-depth: 0, or pass --base explicitly)' : ''),
  );
}

/**
 * The default branch as a ref usable with {@link resolveCommit}: `origin/HEAD`'s target, else the first of
 * `origin/main`, `origin/master`, `main`, `master` that exists.
 */
export async function defaultBranch(git: Git): Promise<string> {
  try {
    const sym = (await git(['symbolic-ref', '--quiet', 'refs/remotes/origin/HEAD'])).trim();
    if (sym.startsWith('refs/remotes/')) return sym.slice('refs/remotes/'.length);
  } catch {
    // No origin/HEAD: fall through to the usual names.
  }
  for (const name of ['origin/main', 'origin/master', 'main', 'master']) {
    if ((await revParse(git, name)) !== undefined) return name;
  }
  throw new RefError('cannot find the default branch (no origin/HEAD, main or master); pass --base');
}

/** Two detached checkouts with paths of equal length, and the way to get rid of them. */
export interface Worktrees {
  /** The temp folder holding both worktrees. */
  root: string;
  /** `<root>/base`, checked out at `baseSha`. */
  base: string;
  /** `<root>/head`, checked out at `headSha`; same length as `base`. */
  head: string;
  baseSha: string;
  headSha: string;
  /** Removes both worktrees, their registration and the temp folder. Safe to call more than once. */
  dispose(): Promise<void>;
}

export interface WorktreeOptions {
  baseSha: string;
  headSha: string;
  /** Folder in which the temp folder is made. Default the system temp folder. */
  parent?: string;
  /** Registry that removes the worktrees if the run is interrupted. Default the process-wide one. */
  registry?: Cleanups;
}

const TEMP_PREFIX = 'memdelta-wt-';
/** Temp folders made by this process and not yet disposed of. */
const ownRoots = new Set<string>();
const OWNER_FILE = 'memdelta-owner.json';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function removeWorktree(git: Git, path: string): Promise<void> {
  try {
    await git(['worktree', 'remove', '--force', '--force', path]);
  } catch {
    // Already gone or never registered; the folder is removed and the registration pruned below.
  }
}

/**
 * Recovers from earlier runs that crashed: prunes registrations whose folder is gone, and removes memdelta
 * worktrees whose owner process is no longer alive. Worktrees of a run still in progress are left alone.
 */
export async function sweepStaleWorktrees(git: Git): Promise<string[]> {
  await git(['worktree', 'prune']);
  const removed: string[] = [];
  const list = await git(['worktree', 'list', '--porcelain']);
  for (const line of list.split('\n')) {
    if (!line.startsWith('worktree ')) continue;
    const path = line.slice('worktree '.length);
    const root = dirname(path);
    if (!basename(root).startsWith(TEMP_PREFIX) || !['base', 'head'].includes(basename(path))) continue;
    let owner: number | undefined;
    try {
      owner = (JSON.parse(await readFile(join(root, OWNER_FILE), 'utf8')) as { pid?: number }).pid;
    } catch {
      owner = undefined;
    }
    // Kept: worktrees of a live run. This process's own pid counts as live only for worktrees it made itself
    // (after a crash in a container, a new run can get the crashed run's pid).
    const live = owner === process.pid ? ownRoots.has(root) : owner !== undefined && pidAlive(owner);
    if (live) continue;
    await removeWorktree(git, path);
    await rm(root, { recursive: true, force: true });
    removed.push(path);
  }
  if (removed.length > 0) await git(['worktree', 'prune']);
  return removed;
}

async function addWorktree(git: Git, path: string, sha: string): Promise<void> {
  // Hooks are disabled: a post-checkout hook of the user's has no business running in memdelta's copies.
  const args = ['-c', 'core.hooksPath=/dev/null', 'worktree', 'add', '--detach', '--force', path, sha];
  try {
    await git(args);
  } catch (e) {
    // A registration left for the same path by a crash: drop it and try once more.
    if (e instanceof GitError && /already (registered|exists)/.test(e.stderr)) {
      await removeWorktree(git, path);
      await rm(path, { recursive: true, force: true });
      await git(['worktree', 'prune']);
      await git(args);
      return;
    }
    throw e;
  }
}

/**
 * Materialises `baseSha` and `headSha` as detached worktrees `<tmp>/base` and `<tmp>/head` (equal-length paths,
 * because path strings are traced memory). Two worktrees are made even when the SHAs are equal, so both sides run
 * under identical conditions. On failure, whatever was made is removed before the error propagates.
 */
export async function makeWorktrees(git: Git, options: WorktreeOptions): Promise<Worktrees> {
  const { baseSha, headSha } = options;
  for (const [label, sha] of [
    ['base', baseSha],
    ['head', headSha],
  ] as const) {
    if (!isFullSha(sha)) throw new RefError(`${label} must be a full 40-hex SHA, got ${JSON.stringify(sha)}`);
  }
  await sweepStaleWorktrees(git);
  const root = await mkdtemp(join(options.parent ?? tmpdir(), TEMP_PREFIX));
  ownRoots.add(root);
  await writeFile(join(root, OWNER_FILE), JSON.stringify({ pid: process.pid }));
  const base = join(root, 'base');
  const head = join(root, 'head');
  const cleanups = options.registry ?? defaultCleanups;
  let disposing: Promise<void> | undefined;
  const dispose = (): Promise<void> => {
    disposing ??= (async () => {
      unregister();
      await removeWorktree(git, base);
      await removeWorktree(git, head);
      await rm(root, { recursive: true, force: true });
      ownRoots.delete(root);
      try {
        await git(['worktree', 'prune']);
      } catch {
        // The repository itself may be gone (tests, or a crash); nothing left to prune then.
      }
    })();
    return disposing;
  };
  const unregister = cleanups.add({
    label: `worktrees in ${root}`,
    run: dispose,
    // At process exit only synchronous work is possible: the folder goes, the registration is pruned next run.
    runSync: () => {
      if (existsSync(root)) rmSyncQuiet(root);
    },
  });
  try {
    await addWorktree(git, base, baseSha);
    await addWorktree(git, head, headSha);
  } catch (e) {
    await dispose();
    throw e;
  }
  return { root, base, head, baseSha, headSha, dispose };
}

function rmSyncQuiet(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // Best effort at exit.
  }
}

/** Runs `fn` with fresh worktrees and disposes of them afterwards, whether `fn` returns or throws. */
export async function withWorktrees<T>(
  git: Git,
  options: WorktreeOptions,
  fn: (wt: Worktrees) => Promise<T>,
): Promise<T> {
  const wt = await makeWorktrees(git, options);
  try {
    return await fn(wt);
  } finally {
    await wt.dispose();
  }
}
