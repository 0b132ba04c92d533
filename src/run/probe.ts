/**
 * Runs the Python probe (`python -m memdelta_probe`) on one side: builds its argv from a target, gives it
 * the allow-listed environment with PYTHONPATH set to the probe's directory alone, and bounds it like any
 * child (timeout, group kill, output tails). The report file is not read here; the caller validates it.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Target } from '../plan/types.js';
import { limitedCommand, limitMethod } from './memory-limit.js';
import { runProjectChild, type ProcessOutcome, type ProjectChildOptions } from './process.js';

export interface ProbeOptions extends ProjectChildOptions {
  /** Interpreter (path or a name on PATH), the same on both sides. */
  python: string;
  /** Directory that contains the `memdelta_probe` package. */
  probeDir: string;
  /** The worktree: the probe's `--root` and the child's working directory. */
  root: string;
  target: Target;
  /** Where the probe writes its JSON report. */
  out: string;
  frames: number;
  iterations: number;
  warmup: number;
  /** `module:function` called before the window (callable targets). */
  setupCallable?: string;
  /** False skips the per-site breakdown at the peak (`--no-peak-sites`). */
  peakSites: boolean;
  /** Expected peak in bytes from an earlier pass (`--peak-hint`). */
  peakHint?: number;
  /** Run without tracemalloc, for peak RSS only (`--rss-only`). */
  rssOnly?: boolean;
  /** Address-space limit in bytes (see memory-limit.ts); undefined: none. */
  memoryLimit?: number;
}

export interface ProbeRun {
  outcome: ProcessOutcome;
  /** The `--out` path; the file may be missing if the probe could not start or was killed. */
  reportPath: string;
  /** The full command line that ran, for error reports. */
  argv: string[];
}

/** A target spec or argument that would be misread as an option of the probe or of Python. */
export class ProbeArgumentError extends Error {
  override readonly name = 'ProbeArgumentError';
}

/** The target part of the probe's command line: `path args`, `-m module args`, or `module:function`. */
export function targetArgv(target: Target): string[] {
  if (target.spec === '') throw new ProbeArgumentError(`The ${target.kind} target is empty.`);
  if (target.spec.startsWith('-')) {
    throw new ProbeArgumentError(
      `The ${target.kind} target ${JSON.stringify(target.spec)} starts with "-"; refused.`,
    );
  }
  switch (target.kind) {
    case 'script':
      return [target.spec, ...target.args];
    case 'module':
      return ['-m', target.spec, ...target.args];
    case 'callable':
      if (target.args.length > 0) {
        throw new ProbeArgumentError(
          `The callable target ${JSON.stringify(target.spec)} takes no arguments (got ${target.args.length}).`,
        );
      }
      return [target.spec];
    case 'pytest':
      throw new ProbeArgumentError('A pytest target runs through runPytest, not the probe command line.');
  }
}

/** The probe's arguments after `python`: `-m memdelta_probe --out ... TARGET...`. */
export function probeArgs(options: ProbeOptions): string[] {
  const args = [
    '-m',
    'memdelta_probe',
    '--out',
    options.out,
    '--root',
    options.root,
    '--frames',
    String(options.frames),
    '--iterations',
    String(options.iterations),
    '--warmup',
    String(options.warmup),
  ];
  if (options.setupCallable !== undefined) args.push('--setup', options.setupCallable);
  if (!options.peakSites) args.push('--no-peak-sites');
  if (options.peakHint !== undefined) args.push('--peak-hint', String(Math.round(options.peakHint)));
  if (options.rssOnly) args.push('--rss-only');
  args.push(...targetArgv(options.target));
  return args;
}

/** Runs the probe once. Throws only for arguments or environment memdelta refuses; never for the child. */
export async function runProbe(options: ProbeOptions): Promise<ProbeRun> {
  const args = probeArgs(options);
  const parentPath = (options.parentEnv ?? process.env)['PATH'];
  const cmd =
    options.memoryLimit !== undefined
      ? limitedCommand(options.python, args, options.memoryLimit, limitMethod(parentPath))
      : { file: options.python, args };
  return runChild(options, cmd);
}

/** Runs a probe command with the allow-listed environment (PYTHONPATH = the probe's folder) and the usual bounds. */
async function runChild(
  options: ProjectChildOptions & Pick<ProbeOptions, 'probeDir' | 'root' | 'out'>,
  cmd: { file: string; args: string[] },
): Promise<ProbeRun> {
  const outcome = await runProjectChild({
    ...options,
    file: cmd.file,
    args: cmd.args,
    cwd: options.root,
    pythonPath: options.probeDir,
  });
  return { outcome, reportPath: options.out, argv: [cmd.file, ...cmd.args] };
}

/** Options of one pytest run under the plugin (`memdelta_probe.pytest_plugin`). */
export interface PytestOptions extends Omit<
  ProbeOptions,
  'iterations' | 'warmup' | 'setupCallable' | 'peakSites' | 'peakHint' | 'rssOnly'
> {
  /** JSON file `{"tests": {id: peak or null}}`: measure only these, with the breakdown where a peak is given. */
  hintsFile?: string;
  /** `i/n`: only the tests whose id hashes to this slice. */
  shard?: { index: number; count: number };
}

/**
 * pytest's arguments after `python`: the plugin, memdelta's own options, then the user's selection. The root is the
 * worktree so test ids are repository-relative on both sides.
 */
export function pytestArgs(options: PytestOptions, memoryLimitFlag?: number): string[] {
  if (options.target.kind !== 'pytest') throw new ProbeArgumentError('not a pytest target');
  const args = [
    '-m',
    'pytest',
    '-p',
    'memdelta_probe.pytest_plugin',
    // pytest's cache (`cache` fixture, --lf state) in a folder of this run's own, outside the worktree: each run
    // starts from an empty one, and tests that use the cache fixture still work.
    '-o',
    `cache_dir=${options.out.replace(/\.json$/, '')}.cache`,
    // Random test order (pytest-randomly) would differ between base and head, moving first-time costs such as
    // imports from one test to another: a false alarm. Blocking a plugin that is not installed is harmless.
    '-p',
    'no:randomly',
    '--rootdir',
    options.root,
    '--memdelta-out',
    options.out,
    '--memdelta-root',
    options.root,
    '--memdelta-frames',
    String(options.frames),
  ];
  if (options.hintsFile !== undefined) args.push('--memdelta-hints', options.hintsFile);
  if (options.shard !== undefined)
    args.push('--memdelta-shard', `${options.shard.index}/${options.shard.count}`);
  if (memoryLimitFlag !== undefined) args.push('--memdelta-memory-limit', String(memoryLimitFlag));
  return [...args, ...options.target.args];
}

/** Runs pytest once under the plugin. Throws only for arguments memdelta refuses; never for the child. */
export async function runPytest(options: PytestOptions): Promise<ProbeRun> {
  const parentPath = (options.parentEnv ?? process.env)['PATH'];
  const method = options.memoryLimit !== undefined ? limitMethod(parentPath) : undefined;
  const args = pytestArgs(options, method?.kind === 'probe' ? options.memoryLimit : undefined);
  const cmd =
    method?.kind === 'prlimit' && options.memoryLimit !== undefined
      ? limitedCommand(options.python, args, options.memoryLimit, method)
      : { file: options.python, args };
  return runChild(options, cmd);
}

/**
 * The folder holding the `memdelta_probe` package: the nearest `py-probe/` above `fromUrl` (this module, or the
 * bundle in `dist/`) that contains `memdelta_probe/__main__.py`.
 */
export function defaultProbeDir(fromUrl: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(fromUrl));
  for (;;) {
    const candidate = join(dir, 'py-probe');
    if (existsSync(join(candidate, 'memdelta_probe', '__main__.py'))) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find py-probe/memdelta_probe above ${fileURLToPath(fromUrl)}`);
    dir = up;
  }
}
