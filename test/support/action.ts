/**
 * Runs the action's bundle as the runner would: `node <bundle>` in the workspace, with an event payload on disk,
 * the inputs as `INPUT_*` variables, the runner's command files in RUNNER_TEMP, and the GitHub API (the loopback
 * server) named by GITHUB_API_URL.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { baseEnv, ROOT, runNode, type Ran } from './cli.js';

/** The shipped action bundle. */
export const ACTION = join(ROOT, 'dist', 'index.js');

/** A run of the action, with what it left in the runner's command files. */
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

/** Where and against what the action runs. */
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

/** The context of a run against the loopback GitHub server `server`, on `sha` checked out in `workspace`. */
export function contextFor(
  server: { owner: string; repo: string; url: string; webUrl: string },
  workspace: string,
  sha: string,
  tmp: string,
): ActionContext {
  return {
    workspace,
    sha,
    repository: `${server.owner}/${server.repo}`,
    apiUrl: server.url,
    serverUrl: server.webUrl,
    tmp,
  };
}

/** Options of {@link runAction}. */
export interface ActionOptions {
  /** Variables set after the runner's and the inputs' defaults, e.g. planted secrets. */
  env?: Record<string, string>;
  /** The bundle to run; dist/index.js by default (a test may build its own from src). */
  bundle?: string;
  /** Called once the node process has started. */
  onStart?: (child: ChildProcess) => void;
}

// Named as the runner names them (a kind and an id), so a benchmark searching RUNNER_TEMP finds them as it would.
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

/**
 * Runs the action bundle as the runner would, in a fresh run folder `run-*` under `ctx.tmp` (tests that interrupt
 * a run find it by that prefix), and collects its outputs, summary and command files.
 */
export async function runAction(
  ctx: ActionContext,
  eventName: string,
  payload: unknown,
  inputs: Record<string, string> = {},
  o: ActionOptions = {},
): Promise<ActionRun> {
  const dir = join(ctx.tmp, `run-${Math.random().toString(36).slice(2)}`);
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await mkdir(join(dir, '_runner_file_commands'));
  await writeFile(join(dir, 'event.json'), JSON.stringify(payload));
  for (const kind of Object.keys(COMMAND_FILES) as (keyof typeof COMMAND_FILES)[]) {
    await writeFile(commandFile(dir, kind), '');
  }
  const ran = await runNode(o.bundle ?? ACTION, [], {
    cwd: ctx.workspace,
    env: actionEnv(ctx, dir, eventName, inputs, o.env),
    timeoutMs: 90_000,
    ...(o.onStart ? { onStart: o.onStart } : {}),
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

/**
 * The JSON files whose names start with `prefix` in a run's TMPDIR, parsed: what a benchmark recorded (e.g. the
 * environment it saw) for the test to check after the run.
 */
export async function tmpJson<T>(run: { dir: string }, prefix: string): Promise<T[]> {
  const tmp = join(run.dir, 'tmp');
  const names = (await readdir(tmp)).filter((f) => f.startsWith(prefix));
  return Promise.all(names.map(async (f) => JSON.parse(await readFile(join(tmp, f), 'utf8')) as T));
}

/** A pull_request event payload for pull request `number` of `ctx.repository`. */
export function pullPayload(
  ctx: { repository: string },
  number: number,
  headSha: string,
  baseSha: string,
  labels: string[] = [],
  action = 'synchronize',
) {
  const [owner, name] = ctx.repository.split('/');
  const repository = { full_name: ctx.repository, name, owner: { login: owner } };
  return {
    action,
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
