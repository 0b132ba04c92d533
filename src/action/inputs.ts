/**
 * The action's inputs, read once and validated: the only place that calls `core.getInput`. Every input declared in
 * action.yml has a default there, so an empty value means "the default" (or "not set" where the default is empty).
 * A value that cannot be used fails the run with a message naming the input.
 */
import * as core from '@actions/core';
import { markerFor } from './comment.js';
import { parseMemoryLimit, parseNoiseFloor, parseTimeout } from '../plan/config.js';
import { parseRule } from '../plan/budget.js';
import { parseShard, type ShardSpec } from '../plan/shard.js';
import { DEFAULT_ACCEPT_LABEL } from '../render/model.js';

/** When to write the sticky comment. */
export type CommentMode = 'always' | 'on-change' | 'on-regression' | 'never';
/** The verdict from which the step fails: `fail` (over a fail budget), `warn` (any budget), `never`. */
export type FailOn = 'fail' | 'warn' | 'never';
/**
 * `run`: compare and publish; `measure`: compare and write the report, no comment; `comment`: publish a report;
 * `aggregate`: merge the partial reports of a sharded run and publish them as one.
 */
export type ActionMode = 'run' | 'measure' | 'comment' | 'aggregate';

/** Validated settings of one action run. */
export interface ActionInputs {
  githubToken: string;
  /** Config file relative to the working directory; undefined means `.memdelta.yml`. */
  config: string | undefined;
  /** A single target instead of a config file. */
  run: string | undefined;
  /** A pytest selection instead of a config file: each test is a scenario. */
  pytest: string | undefined;
  python: string | undefined;
  setup: string | undefined;
  /** Relative to the workspace; `.` by default. */
  workingDirectory: string;
  baseRef: string | undefined;
  /** Budget rules as written, one per entry (blank lines and `#` comments removed). */
  budgets: string[];
  minDelta: string | undefined;
  iterations: string | undefined;
  frames: string | undefined;
  /** Per-scenario time limit in minutes, written as the engine's timeout (`10m`). */
  timeout: string | undefined;
  /** Address-space limit per probe run, such as `4GiB`. */
  memoryLimit: string | undefined;
  /** Reuse base reports across runs through GitHub's cache. */
  cache: boolean;
  comment: CommentMode;
  commentKey: string;
  failOn: FailOn;
  acceptLabel: string;
  annotations: boolean;
  mode: ActionMode;
  /** Where mode `measure` writes the report and mode `comment` reads it, relative to the workspace. */
  reportFile: string;
  /** `i/n`: compare only this slice of the scenarios (modes run and measure). */
  shard: ShardSpec | undefined;
  /** Mode `aggregate`: the folder holding the partial reports, relative to the workspace. */
  reports: string;
  allowUntrustedCheckout: boolean;
}

/** An input whose value cannot be used; the message names it. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

/** Reads one input's raw value (the runner's `INPUT_<NAME>`); `core.getInput` in the action. */
export type InputReader = (name: string) => string;

const TRUE = ['true', 'True', 'TRUE'];
const FALSE = ['false', 'False', 'FALSE'];

function oneOf<T extends string>(read: InputReader, name: string, allowed: readonly T[], fallback: T): T {
  const v = read(name).trim();
  if (v === '') return fallback;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new InputError(
    `Input "${name}" is ${JSON.stringify(v)}; use one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}.`,
  );
}

function bool(read: InputReader, name: string, fallback: boolean): boolean {
  const v = read(name).trim();
  if (v === '') return fallback;
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  throw new InputError(`Input "${name}" is ${JSON.stringify(v)}; use true or false.`);
}

function optional(read: InputReader, name: string): string | undefined {
  const v = read(name).trim();
  return v === '' ? undefined : v;
}

function count(read: InputReader, name: string, min: number, max: number): string | undefined {
  const v = optional(read, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new InputError(
      `Input "${name}" is ${JSON.stringify(v)}; use a whole number from ${min} to ${max}.`,
    );
  }
  return v;
}

function relativePath(read: InputReader, name: string, fallback: string): string {
  const v = read(name).trim() || fallback;
  if (v.startsWith('/') || /^[A-Za-z]:[\\/]/.test(v) || v.split(/[\\/]/).includes('..') || v.includes('\0')) {
    throw new InputError(
      `Input "${name}" is ${JSON.stringify(v)}; use a path inside the workspace, relative, without "..".`,
    );
  }
  return v;
}

/** Checks each budget line with the engine's parser so a typo fails here, naming the input and the line. */
function budgets(read: InputReader): string[] {
  const lines = read('budget')
    .split(/\r?\n/)
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l !== '');
  lines.forEach((l, i) => {
    try {
      parseRule(l);
    } catch (e) {
      throw new InputError(`Input "budget", line ${i + 1}: ${(e as Error).message}`);
    }
  });
  return lines;
}

function checked<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new InputError(`Input "${name}": ${(e as Error).message}`);
  }
}

/**
 * Reads and validates every input.
 * @param read the raw reader; defaults to `core.getInput` (tests pass their own)
 * @throws InputError naming the first input that cannot be used
 */
export function readInputs(read: InputReader = (name) => core.getInput(name)): ActionInputs {
  const mode = oneOf(read, 'mode', ['run', 'measure', 'comment', 'aggregate'] as const, 'run');
  const shardText = optional(read, 'shard');
  const shard = shardText !== undefined ? checked('shard', () => parseShard(shardText)) : undefined;
  if (shard !== undefined && mode !== 'measure') {
    throw new InputError(
      `Input "shard" needs mode "measure": each shard writes a partial report, and a job with mode "aggregate" publishes them as one (see docs/sharding.md).`,
    );
  }
  const config = optional(read, 'config');
  const run = optional(read, 'run');
  const pytest = optional(read, 'pytest');
  if ([config, run, pytest].filter((v) => v !== undefined).length > 1) {
    throw new InputError(
      'Inputs "config", "run" and "pytest" are set together; use one: a config file, a single target or a pytest selection.',
    );
  }
  if (config !== undefined) relativePath(read, 'config', '.memdelta.yml');
  const minDelta = optional(read, 'min-delta');
  if (minDelta !== undefined) checked('min-delta', () => parseNoiseFloor(minDelta));
  const minutes = optional(read, 'timeout-minutes');
  let timeout: string | undefined;
  if (minutes !== undefined) {
    timeout = `${minutes}m`;
    checked('timeout-minutes', () => {
      if (!/^\d+(\.\d+)?$/.test(minutes))
        throw new Error(`${JSON.stringify(minutes)} is not a number of minutes`);
      return parseTimeout(timeout as string);
    });
  }
  const memoryLimit = optional(read, 'memory-limit');
  if (memoryLimit !== undefined) checked('memory-limit', () => parseMemoryLimit(memoryLimit));
  const commentKey = read('comment-key').trim() || 'default';
  checked('comment-key', () => markerFor(commentKey));
  const acceptLabel = read('accept-label').trim() || DEFAULT_ACCEPT_LABEL;
  if (acceptLabel.length > 100)
    throw new InputError('Input "accept-label" is longer than GitHub\'s 100-character label limit.');
  const comment = oneOf(
    read,
    'comment',
    ['always', 'on-change', 'on-regression', 'never'] as const,
    'always',
  );
  const githubToken = read('github-token').trim();
  if (githubToken === '' && mode === 'comment') {
    throw new InputError(
      'Input "github-token" is empty; mode "comment" needs a token with pull-requests: write.',
    );
  }
  return {
    githubToken,
    config,
    run,
    pytest,
    python: optional(read, 'python'),
    setup: optional(read, 'setup'),
    workingDirectory: relativePath(read, 'working-directory', '.'),
    baseRef: optional(read, 'base-ref'),
    budgets: budgets(read),
    minDelta,
    iterations: count(read, 'iterations', 1, 100_000),
    frames: count(read, 'frames', 1, 100),
    timeout,
    memoryLimit,
    cache: bool(read, 'cache', true),
    comment,
    commentKey,
    failOn: oneOf(read, 'fail-on', ['fail', 'warn', 'never'] as const, 'fail'),
    acceptLabel,
    annotations: bool(read, 'annotations', true),
    mode,
    reportFile: relativePath(read, 'report-file', 'memdelta-report.json'),
    shard,
    reports: relativePath(read, 'reports', 'memdelta-reports'),
    allowUntrustedCheckout: bool(read, 'allow-untrusted-checkout', false),
  };
}
