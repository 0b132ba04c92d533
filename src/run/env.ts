/**
 * The environment a benchmark (untrusted pull-request code) and its setup command run with: an allow-list
 * of harmless variables from our own environment, the Python settings memdelta fixes for determinism, and
 * what the user passes explicitly. Tokens, action inputs and the runner's command files never get through,
 * even when asked for by name, because the code that would receive them is the code under review.
 */

/** Passed through from the parent when present. */
const ALLOWED_NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TMP',
  'TEMP',
  'TERM',
  'CI',
  'VIRTUAL_ENV',
  // Which interpreter a pyenv shim runs; the user chose it for both sides.
  'PYENV_ROOT',
  'PYENV_VERSION',
  // The runner kills processes carrying its tracking id at the end of the job; keep it so it still can.
  'RUNNER_TRACKING_ID',
  'RUNNER_OS',
  'RUNNER_ARCH',
  'RUNNER_TEMP',
  // Python on Windows cannot start without these.
  'SYSTEMROOT',
  'SystemRoot',
  'WINDIR',
  'COMSPEC',
  'PATHEXT',
]);

/** Passed through by prefix. */
const ALLOWED_PREFIXES = ['LC_'];

/** The GitHub runner's command files: writing to them sets outputs, env and PATH of later steps. */
const RUNNER_FILES = new Set([
  'GITHUB_ENV',
  'GITHUB_OUTPUT',
  'GITHUB_PATH',
  'GITHUB_STATE',
  'GITHUB_STEP_SUMMARY',
]);

/** Set by memdelta on every run; the user cannot override them. */
const FIXED_PYTHON = {
  PYTHONHASHSEED: '0',
  // Worktrees stay clean and both sides compile alike when nothing writes .pyc files.
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONUNBUFFERED: '1',
} as const;

/** Names memdelta owns: the user may neither set nor pass them. */
const OWNED_NAMES = new Set([...Object.keys(FIXED_PYTHON), 'PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP']);

const SECRET_WORD = /(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE_?KEY|API_?KEY|AUTH)($|_)/i;

/** A variable the user asked for that memdelta refuses to give to the benchmark. */
export class EnvError extends Error {
  override readonly name = 'EnvError';
}

/**
 * Why `name` may not be passed to a benchmark, or undefined when it may. Case-insensitive, because
 * Windows environment names are.
 */
export function refusalReason(name: string): string | undefined {
  const upper = name.toUpperCase();
  const shown = printable(name);
  if (upper.startsWith('INPUT_'))
    return `${shown} is an action input; inputs are never passed to the benchmark`;
  if (upper.startsWith('ACTIONS_')) {
    return `${shown} belongs to the Actions runtime (cache, artifact and OIDC tokens); it is never passed to the benchmark`;
  }
  if (RUNNER_FILES.has(upper)) {
    return `${shown} is a runner command file; the benchmark must not be able to set outputs or the environment of later steps`;
  }
  if (upper === 'GITHUB_TOKEN' || upper === 'GH_TOKEN' || SECRET_WORD.test(name)) {
    return `${shown} looks like a secret; the benchmark runs pull-request code, so secrets are never passed to it`;
  }
  if (OWNED_NAMES.has(upper) || upper.startsWith('MEMDELTA_')) {
    return `${shown} is set by memdelta itself for reproducible runs and cannot be overridden`;
  }
  if (name === '' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    return `"${shown}" is not a valid environment variable name (letters, digits and _, not starting with a digit)`;
  }
  return undefined;
}

/** Throws an {@link EnvError} when `name` may not be passed to a benchmark. */
export function assertPassable(name: string): void {
  const reason = refusalReason(name);
  if (reason !== undefined) throw new EnvError(`Cannot pass environment variable: ${reason}.`);
}

export interface ChildEnvOptions {
  /** The environment to pick from; defaults to `process.env`. */
  parent?: Record<string, string | undefined>;
  /** Names the user explicitly passes through from the parent (missing ones are skipped). */
  pass?: readonly string[];
  /** Variables the user sets explicitly, by name and value (a plan's `env`). */
  values?: Record<string, string>;
  /** Becomes PYTHONPATH, alone (the probe's directory); omitted when undefined. */
  pythonPath?: string;
}

/**
 * Builds the allow-listed child environment. Throws an {@link EnvError} when `pass` or `values` name a
 * variable that must not reach pull-request code.
 */
export function buildChildEnv(options: ChildEnvOptions = {}): Record<string, string> {
  const parent = options.parent ?? process.env;
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined) continue;
    if (ALLOWED_NAMES.has(name) || ALLOWED_PREFIXES.some((p) => name.startsWith(p))) env[name] = value;
  }
  for (const name of options.pass ?? []) {
    assertPassable(name);
    const value = parent[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(options.values ?? {})) {
    assertPassable(name);
    if (value.includes('\0'))
      throw new EnvError(`Cannot pass environment variable ${name}: its value contains a NUL byte.`);
    env[name] = value;
  }
  Object.assign(env, FIXED_PYTHON);
  if (options.pythonPath !== undefined) env.PYTHONPATH = options.pythonPath;
  return env;
}

function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}
