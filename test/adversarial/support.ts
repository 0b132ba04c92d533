/**
 * Runs the shipped bundles as a user or the runner would: `node dist/cli.js` and `node dist/index.js` with the
 * Node the package requires, real git, real python3, and (for the action) the loopback GitHub API. The CLI's peak
 * memory is the kernel's high-water mark of its resident set.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TEST_CACHE_HOME } from '../support/cache-home.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const CLI = join(ROOT, 'dist', 'cli.js');
export const ACTION = join(ROOT, 'dist', 'index.js');

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the node process in bytes (VmHWM), when measured. */
  maxRss?: number;
  durationMs: number;
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Measure node's peak RSS. */
  measureRss?: boolean;
  /** Called once the node process has started. */
  onStart?: (child: ChildProcess) => void;
}

/** The environment a bare shell would give: PATH and HOME only, plus what the test adds. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/root',
    // A base-report cache of this test process's own: never the user's, never another run's.
    XDG_CACHE_HOME: TEST_CACHE_HOME,
    ...extra,
  };
}

/** The kernel's high-water mark of the resident set of `pid` (VmHWM), in bytes; 0 once it has exited. */
function highWaterMark(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs `node <script> ...args` and collects everything. Output is kept whole: memdelta's own output is small.
 * The peak RSS is node's own (VmHWM polled every 20 ms), not its children's: /usr/bin/time would report the
 * largest benchmark instead.
 */
export async function runNode(script: string, args: readonly string[], o: RunOptions): Promise<Ran> {
  const started = Date.now();
  const child = spawn(NODE, [script, ...args], {
    cwd: o.cwd,
    env: o.env ?? baseEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  o.onStart?.(child);
  let maxRss = 0;
  const poll =
    o.measureRss && child.pid !== undefined
      ? setInterval(() => {
          maxRss = Math.max(maxRss, highWaterMark(child.pid as number));
        }, 20)
      : undefined;
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 90_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.on('close', (c, s) => done([c, s])),
  );
  clearTimeout(timer);
  clearInterval(poll);
  return {
    code,
    signal,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
    durationMs: Date.now() - started,
    ...(o.measureRss ? { maxRss } : {}),
  };
}

/** `node dist/cli.js ...args`. */
export function runCli(args: readonly string[], o: RunOptions): Promise<Ran> {
  return runNode(CLI, args, o);
}

/** Live processes whose environment or command line contains `needle` (for leftovers of a benchmark). */
export function processesWith(needle: string): { pid: number; name: string }[] {
  const found: { pid: number; name: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      const cmd = readFileSync(`/proc/${d}/cmdline`);
      let env = Buffer.alloc(0);
      try {
        env = readFileSync(`/proc/${d}/environ`);
      } catch {
        // Not ours to read.
      }
      if (cmd.includes(needle) || env.includes(needle)) {
        found.push({ pid: Number(d), name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
      }
    } catch {
      // Exited meanwhile.
    }
  }
  return found;
}

/** memdelta's worktree folders in `dir`. */
export function worktreeFolders(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('memdelta-wt-')) : [];
}

/** Parses GITHUB_OUTPUT (`name<<delimiter` blocks, as @actions/core writes them). */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i] ?? '');
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i] ?? '');
    out[m[1] as string] = value.join('\n');
  }
  return out;
}

/**
 * The workflow commands the runner would execute in a log: `::name...::` lines outside a
 * `::stop-commands::TOKEN` … `::TOKEN::` block. Returns the command lines.
 */
export function liveCommands(log: string): string[] {
  const live: string[] = [];
  let stopToken: string | undefined;
  for (const raw of log.split('\n')) {
    const line = raw.replace(/\r$/, '').trimStart();
    if (stopToken !== undefined) {
      if (line === `::${stopToken}::`) stopToken = undefined;
      continue;
    }
    const stop = /^::stop-commands::(.+)$/.exec(line);
    if (stop) {
      stopToken = stop[1];
      live.push(line);
      continue;
    }
    if (/^::[a-z-]+( [^:]*)?::/i.test(line)) live.push(line);
  }
  return live;
}

export interface ActionRun extends Ran {
  outputs: Record<string, string>;
  summary: string;
  /** The GITHUB_ENV file's content after the run. */
  githubEnv: string;
  /** The GITHUB_PATH file's content after the run. */
  githubPath: string;
  /** The run's folder and RUNNER_TEMP: event.json, `_runner_file_commands/`, and TMPDIR (`tmp/`). */
  dir: string;
}

export interface ActionContext {
  /** The workspace: a git repository with GITHUB_SHA checked out. */
  workspace: string;
  sha: string;
  repository: string;
  apiUrl: string;
  serverUrl: string;
  /** Folder for the per-run folders. */
  tmp: string;
}

const COMMAND_FILES = {
  output: 'set_output_3f2a9c',
  env: 'set_env_3f2a9c',
  path: 'add_path_3f2a9c',
  state: 'save_state_3f2a9c',
  summary: 'step_summary_3f2a9c',
} as const;

/** Where the runner keeps a step's command files: `RUNNER_TEMP/_runner_file_commands/<kind>_<id>`. */
export function commandFile(dir: string, kind: keyof typeof COMMAND_FILES): string {
  return join(dir, '_runner_file_commands', COMMAND_FILES[kind]);
}

/** The action's inputs as the runner sets them (defaults from action.yml), overridden by `inputs`. */
export function actionEnv(
  ctx: ActionContext,
  dir: string,
  eventName: string,
  inputs: Record<string, string>,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {
    ...baseEnv(),
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_EVENT_NAME: eventName,
    GITHUB_EVENT_PATH: join(dir, 'event.json'),
    GITHUB_SHA: ctx.sha,
    GITHUB_REPOSITORY: ctx.repository,
    GITHUB_API_URL: ctx.apiUrl,
    GITHUB_SERVER_URL: ctx.serverUrl,
    GITHUB_WORKSPACE: ctx.workspace,
    GITHUB_OUTPUT: commandFile(dir, 'output'),
    GITHUB_ENV: commandFile(dir, 'env'),
    GITHUB_PATH: commandFile(dir, 'path'),
    GITHUB_STATE: commandFile(dir, 'state'),
    GITHUB_STEP_SUMMARY: commandFile(dir, 'summary'),
    RUNNER_TEMP: dir,
    RUNNER_TRACKING_ID: 'github_tracking_0f3c',
    TMPDIR: join(dir, 'tmp'),
    GITHUB_TOKEN: 'ghs_test_token',
    'INPUT_GITHUB-TOKEN': 'ghs_test_token',
    INPUT_RUN: 'bench.py',
    INPUT_COMMENT: 'always',
    'INPUT_COMMENT-KEY': 'default',
    'INPUT_FAIL-ON': 'fail',
    'INPUT_ACCEPT-LABEL': 'memdelta: accept increase',
    INPUT_ANNOTATIONS: 'true',
    INPUT_MODE: 'run',
    'INPUT_REPORT-FILE': 'memdelta-report.json',
    'INPUT_ALLOW-UNTRUSTED-CHECKOUT': 'false',
    'INPUT_WORKING-DIRECTORY': '.',
    ...extra,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  return env;
}

/** Runs `node dist/index.js` as the runner would, in a fresh run folder. */
export async function runAction(
  ctx: ActionContext,
  eventName: string,
  payload: unknown,
  inputs: Record<string, string> = {},
  extraEnv: Record<string, string> = {},
  onStart?: (child: ChildProcess) => void,
): Promise<ActionRun> {
  const dir = join(ctx.tmp, `run-${Math.random().toString(36).slice(2)}`);
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await mkdir(join(dir, '_runner_file_commands'));
  await writeFile(join(dir, 'event.json'), JSON.stringify(payload));
  for (const kind of Object.keys(COMMAND_FILES) as (keyof typeof COMMAND_FILES)[]) {
    await writeFile(commandFile(dir, kind), '');
  }
  const ran = await runNode(ACTION, [], {
    cwd: ctx.workspace,
    env: actionEnv(ctx, dir, eventName, inputs, extraEnv),
    timeoutMs: 90_000,
    ...(onStart ? { onStart } : {}),
  });
  return {
    ...ran,
    dir,
    outputs: parseOutputs(await readFile(commandFile(dir, 'output'), 'utf8')),
    summary: await readFile(commandFile(dir, 'summary'), 'utf8'),
    githubEnv: await readFile(commandFile(dir, 'env'), 'utf8'),
    githubPath: await readFile(commandFile(dir, 'path'), 'utf8'),
  };
}

/** A pull_request event payload for pull request `number`. */
export function pullPayload(
  ctx: { repository: string },
  number: number,
  headSha: string,
  baseSha: string,
  labels: string[] = [],
) {
  const [owner, name] = ctx.repository.split('/');
  const repository = { full_name: ctx.repository, name, owner: { login: owner } };
  return {
    action: 'synchronize',
    number,
    pull_request: {
      number,
      labels: labels.map((l, i) => ({ id: i + 1, name: l })),
      head: { sha: headSha, ref: 'feature', repo: repository },
      base: { sha: baseSha, ref: 'main', repo: repository },
    },
    repository,
  };
}

/** Files the benchmark dropped in TMPDIR (`tmp/` of a run folder). */
export async function tmpFiles(dir: string): Promise<string[]> {
  return readdir(join(dir, 'tmp'));
}
