/**
 * The environment of every child that runs project code (probe, setup command). PR code is untrusted, so the
 * child gets an allow-list of harmless variables, never the action's inputs, tokens or workflow-command files,
 * plus only what the user names explicitly.
 */

/** A variable the user asked to pass that memdelta refuses to pass. */
export class EnvError extends Error {
  override readonly name = 'EnvError';
}

/** Copied from the parent when set. */
const ALLOWED = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TMP',
  'TEMP',
  'CI',
  // Lets the runner find and reap processes a benchmark leaves behind.
  'RUNNER_TRACKING_ID',
  'RUNNER_OS',
  'RUNNER_ARCH',
  'RUNNER_TEMP',
  // An activated virtual environment: the interpreter finds it through pyvenv.cfg anyway, but tools in a setup
  // command (`uv pip install`) look for it here. It is a path, not a secret.
  'VIRTUAL_ENV',
  'CONDA_PREFIX',
  // Windows cannot start Python without these.
  'SYSTEMROOT',
  'SystemRoot',
  'WINDIR',
  'COMSPEC',
  'PATHEXT',
  'USERPROFILE',
]);

/** Variables memdelta sets on every child run, whatever the parent or user say. */
export const FIXED_ENV: Readonly<Record<string, string>> = Object.freeze({
  // Hash randomisation changes dict layouts and with them the peak (PROBE-NOTES.md).
  PYTHONHASHSEED: '0',
  // No __pycache__ in the worktrees: they stay clean and both sides compile alike.
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONUNBUFFERED: '1',
});

/** Names memdelta controls; a user may neither pass nor set them. */
const CONTROLLED = new Set([
  ...Object.keys(FIXED_ENV),
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONSTARTUP',
  'PYTHONTRACEMALLOC',
  'PYTHONEXECUTABLE',
]);

const WORKFLOW_FILES = new Set([
  'GITHUB_ENV',
  'GITHUB_OUTPUT',
  'GITHUB_PATH',
  'GITHUB_STATE',
  'GITHUB_STEP_SUMMARY',
]);
const SECRET_WORDS = [
  'TOKEN',
  'SECRET',
  'PASSWORD',
  'PASSWD',
  'PASSPHRASE',
  'CREDENTIAL',
  'PRIVATE',
  'APIKEY',
];
const SECRET_PARTS = new Set(['KEY', 'PASS', 'PAT', 'AUTH', 'COOKIE']);

/**
 * Why `name` may never reach a child, or undefined if it may. Refused: `INPUT_*` (action inputs, which include
 * the token), `ACTIONS_*` (runtime and OIDC tokens), GITHUB_TOKEN/GH_TOKEN, the workflow-command files, variables
 * memdelta controls, and names that look like secrets (`*TOKEN*`, `*SECRET*`, `*_KEY`, ...).
 */
export function refusalReason(name: string): string | undefined {
  const upper = name.toUpperCase();
  if (upper.startsWith('INPUT_')) return 'action inputs (INPUT_*) can hold tokens and are never passed';
  if (upper.startsWith('ACTIONS_'))
    return 'ACTIONS_* variables hold runtime and OIDC tokens and are never passed';
  if (upper === 'GITHUB_TOKEN' || upper === 'GH_TOKEN') return 'tokens are never passed to benchmark code';
  if (WORKFLOW_FILES.has(upper)) return 'workflow command files would let benchmark code change the job';
  if (upper.startsWith('MEMDELTA_') || CONTROLLED.has(upper)) return 'memdelta sets this variable itself';
  const parts = upper.split(/[_-]/);
  if (
    SECRET_WORDS.some((w) => upper.replace(/[_-]/g, '').includes(w)) ||
    parts.some((p) => SECRET_PARTS.has(p))
  ) {
    return 'the name looks like a secret; benchmark code runs from the pull request and must not see secrets';
  }
  return undefined;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Throws an {@link EnvError} unless `name` is a valid variable name that may be passed to a child. */
export function checkPassName(name: string): void {
  const why = refusalReason(name);
  if (why !== undefined)
    throw new EnvError(`refusing to pass environment variable ${JSON.stringify(name)}: ${why}`);
  if (!NAME_RE.test(name)) {
    throw new EnvError(
      `${JSON.stringify(name)} is not a valid environment variable name (letters, digits, _)`,
    );
  }
}

export interface ChildEnvOptions {
  /** The parent environment to pick from. Default `process.env`. */
  parent?: NodeJS.ProcessEnv;
  /** Names to copy from the parent in addition to the allow-list (missing ones are skipped). */
  pass?: readonly string[];
  /** Variables set to literal values (the plan's `env`). */
  set?: Readonly<Record<string, string>>;
  /** The only PYTHONPATH the child gets (the probe's folder); unset when undefined. */
  pythonPath?: string;
}

/**
 * Builds the environment of a child that runs project code: the allow-list and `LC_*` from the parent, the
 * explicitly passed and set variables (each checked with {@link checkPassName}), `PYTHONPATH` if given, and
 * {@link FIXED_ENV} last. Every other parent variable, `PYTHON*` included, is dropped. Use it with
 * `extendEnv: false` so nothing else leaks in.
 */
export function childEnv(options: ChildEnvOptions = {}): Record<string, string> {
  const parent = options.parent ?? process.env;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(parent)) {
    if (v === undefined) continue;
    if (ALLOWED.has(k) || /^LC_[A-Z_]+$/.test(k)) env[k] = v;
  }
  for (const name of options.pass ?? []) {
    checkPassName(name);
    const v = parent[name];
    if (v !== undefined) env[name] = v;
  }
  for (const [name, v] of Object.entries(options.set ?? {})) {
    checkPassName(name);
    if (v.includes('\0')) throw new EnvError(`environment variable ${name} has a NUL character in its value`);
    env[name] = v;
  }
  if (options.pythonPath !== undefined) env.PYTHONPATH = options.pythonPath;
  Object.assign(env, FIXED_ENV);
  return env;
}
