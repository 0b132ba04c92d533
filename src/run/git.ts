/**
 * A minimal git client: argv in, stdout out. Every edge that needs git takes one of these as a parameter, so
 * tests pass a client bound to a real repository in a temp folder.
 */
import { execa } from 'execa';

/** Runs `git <args>` in a fixed repository and resolves with stdout (final newline stripped). */
export type Git = (args: string[]) => Promise<string>;

/** A git command that failed; the message carries git's own stderr. */
export class GitError extends Error {
  override readonly name = 'GitError';
  constructor(
    message: string,
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface GitOptions {
  /** Per-command time limit; a fetch on a slow network is the longest thing git does here. Default 5 minutes. */
  timeoutMs?: number;
  /** Environment git runs with; default the parent's, minus variables that would redirect it (GIT_DIR, ...). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Variables that point git at another repository or index. Inherited from a hook or a wrapper, they would make
 * `cwd` meaningless, so the client never passes them on.
 */
const REDIRECTING = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_PREFIX',
  'GIT_COMMON_DIR',
  'GIT_NAMESPACE',
];

function gitEnv(base: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !REDIRECTING.includes(k)) env[k] = v;
  // A fetch must fail, not wait for a password nobody will type.
  env.GIT_TERMINAL_PROMPT = '0';
  return env;
}

/**
 * Makes a git client for `repoDir`. Arguments go to git as an argv array, never through a shell.
 * A non-zero exit rejects with a {@link GitError} whose message includes git's stderr.
 */
export function makeGit(repoDir: string, options: GitOptions = {}): Git {
  const timeout = options.timeoutMs ?? 300_000;
  const env = gitEnv(options.env ?? process.env);
  return async (args: string[]): Promise<string> => {
    const result = await execa('git', args, {
      cwd: repoDir,
      env,
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      timeout,
      stripFinalNewline: true,
    });
    if (result.failed) {
      const stderr = String(result.stderr ?? '').trim();
      const what = `git ${args.join(' ')}`;
      let why: string;
      if (result.timedOut) why = `timed out after ${timeout} ms`;
      else if (result.exitCode === undefined) why = result.shortMessage ?? 'could not run';
      else why = `exited with code ${result.exitCode}`;
      throw new GitError(`${what} ${why}${stderr ? `: ${stderr}` : ''}`, args, result.exitCode, stderr);
    }
    return String(result.stdout ?? '');
  };
}
