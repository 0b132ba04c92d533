/**
 * The CLI's commands. `compare` prints progress and the terminal summary, writes `--json` and `--markdown`, and
 * exits 0 within budget, 1 over budget (verdict fail), 2 when it could not compare (verdict error). Warnings exit 0.
 */
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Plan } from '../plan/types.js';
import { renderMarkdown } from '../render/markdown.js';
import { renderTerminal } from '../render/terminal.js';
import { MAX_COMPARE_REPORT_BYTES, parseCompareReport } from '../report/compare-schema.js';
import type { CompareReport, Verdict } from '../report/types.js';
import { defaultCleanups } from '../run/cleanup.js';
import { parseShard } from '../plan/shard.js';
import { aggregateReports } from '../report/aggregate.js';
import { defaultCacheDir } from '../run/base-cache.js';
import { compare } from '../run/compare.js';
import { progressLine, reproduceCommand } from '../run/describe.js';
import { makeGit } from '../run/git.js';
import { loadPlan as loadPlanFile, writeAtomic, WriteError } from '../run/load-plan.js';
import { originWebUrl } from '../run/remote.js';
import { defaultProbeDir } from '../run/probe.js';
import { defaultBranch, mergeBase, resolveCommit } from '../run/worktree.js';
import { VERSION } from '../version.js';
import { parseArgs, USAGE, UsageError, type CompareArgs } from './args.js';

/** The process's streams and environment, passed in so tests can run the CLI in-process. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
}

/** Exit status for a verdict: 0 pass/warn, 1 fail, 2 error. */
export function exitCodeFor(verdict: Verdict): number {
  return verdict === 'fail' ? 1 : verdict === 'error' ? 2 : 0;
}

function useColor(io: CliIo, stream: { isTTY?: boolean }, flag: boolean | undefined): boolean {
  if (flag !== undefined) return flag;
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

async function loadPlan(a: CompareArgs, repo: string, env: CliIo['env']): Promise<Plan> {
  const flags = {
    run: a.run,
    pytest: a.pytest,
    name: a.name,
    iterations: a.iterations,
    warmup: a.warmup,
    setup: a.setup,
    python: a.python,
    frames: a.frames,
    minDelta: a.minDelta,
    timeout: a.timeout,
    memoryLimit: a.memoryLimit,
    budgets: a.budgets,
  };
  return loadPlanFile({
    repo,
    ...(a.config !== undefined ? { config: a.config } : {}),
    flags,
    parentEnv: env,
    hint: 'pass --config FILE, --run TARGET or --pytest ARGS',
  });
}

async function runCompare(a: CompareArgs, io: CliIo): Promise<number> {
  const repo = resolve(io.cwd, a.repo);
  const git = makeGit(repo);
  const log = (line: string) => {
    if (!a.quiet) io.stderr.write(line + '\n');
  };
  const plan = await loadPlan(a, repo, io.env);
  let baseRef = a.base;
  if (baseRef === undefined) {
    const branch = await defaultBranch(git);
    const headSha = await resolveCommit(git, a.head);
    baseRef = await mergeBase(git, await resolveCommit(git, branch), headSha);
    log(`memdelta: base is the merge-base of ${a.head} with ${branch}: ${baseRef.slice(0, 12)}`);
  }
  // SIGINT/SIGTERM (a cancelled workflow): kill the probe groups, remove the worktrees, exit 130/143.
  const uninstall = defaultCleanups.install();
  let report: CompareReport;
  try {
    const repositoryUrl = await originWebUrl(git);
    log(`memdelta: comparing ${plan.scenarios.length} scenario(s), base ${baseRef} vs head ${a.head}`);
    report = await compare({
      git,
      baseRef,
      headRef: a.head,
      plan,
      probeDir: defaultProbeDir(),
      sequential: a.sequential,
      rss: a.rss,
      ...(a.shard !== undefined ? { shard: parseShard(a.shard) } : {}),
      ...(a.noCache
        ? {}
        : { cacheDir: a.cache !== undefined ? resolve(io.cwd, a.cache) : defaultCacheDir(io.env) }),
      registry: defaultCleanups,
      parentEnv: io.env,
      onProgress: (p) => {
        const line = progressLine(p);
        if (line) log(line);
      },
      memdeltaVersion: VERSION,
      ...(repositoryUrl ? { repositoryUrl } : {}),
      refNames: { base: baseRef, head: a.head },
    });
  } finally {
    uninstall();
  }
  if (report.settings) report.settings.command = reproduceCommand(a, report.base.sha, report.head.sha);
  return publish(report, a, io);
}

async function publish(
  report: CompareReport,
  a: Pick<CompareArgs, 'json' | 'markdown' | 'color'>,
  io: CliIo,
) {
  if (a.json) await writeAtomic(resolve(io.cwd, a.json), JSON.stringify(report, null, 2) + '\n');
  if (a.markdown) await writeAtomic(resolve(io.cwd, a.markdown), renderMarkdown(report));
  io.stdout.write(renderTerminal(report, { color: useColor(io, io.stdout, a.color) }));
  return exitCodeFor(report.verdict);
}

/** A compare that could not run still writes its JSON report (verdict error) so CI has something to read. */
async function failedCompare(message: string, a: CompareArgs | undefined, io: CliIo): Promise<number> {
  io.stderr.write(`memdelta: ${message}\n`);
  if (a?.json) {
    const report: CompareReport = {
      schema: 'memdelta/compare@1',
      verdict: 'error',
      base: { ref: a.base ?? '', sha: '' },
      head: { ref: a.head, sha: '' },
      scenarios: [],
      error: message,
    };
    try {
      await writeAtomic(resolve(io.cwd, a.json), JSON.stringify(report, null, 2) + '\n');
    } catch (e) {
      const why = e instanceof WriteError ? e.message : `cannot write ${a.json}: ${(e as Error).message}`;
      io.stderr.write(`memdelta: ${why}\n`);
    }
  }
  return 2;
}

async function runRender(
  path: string,
  format: 'markdown' | 'terminal',
  color: boolean | undefined,
  io: CliIo,
) {
  const report = parseCompareReport(await readFile(resolve(io.cwd, path), 'utf8'));
  io.stdout.write(
    format === 'markdown'
      ? renderMarkdown(report)
      : renderTerminal(report, { color: useColor(io, io.stdout, color) }),
  );
  return 0;
}

/** `memdelta aggregate`: merges the partial reports of a sharded run, each validated as untrusted data. */
async function runAggregate(
  cmd: { reports: string[]; json?: string; markdown?: string; color?: boolean },
  io: CliIo,
): Promise<number> {
  const parts = [];
  for (const file of cmd.reports) {
    try {
      const text = await readCappedReport(resolve(io.cwd, file));
      parts.push({ name: file, report: parseCompareReport(text) });
    } catch (e) {
      throw new AggregateInputError(`${file}: ${(e as Error).message}`);
    }
  }
  const report = aggregateReports(parts);
  if (report.verdict === 'error' && report.error) io.stderr.write(`memdelta: ${report.error}\n`);
  return publish(report, cmd, io);
}

/** A partial report that cannot be read or trusted; the message names the file. */
class AggregateInputError extends Error {
  override readonly name = 'AggregateInputError';
}

/** Reads a report file with the compare report's size cap checked before reading. */
async function readCappedReport(path: string): Promise<string> {
  const h = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`cannot be read (${e.code ?? e.message})`);
  });
  try {
    const st = await h.stat();
    if (!st.isFile()) throw new Error('is not a regular file');
    if (st.size > MAX_COMPARE_REPORT_BYTES) throw new Error(`is over ${MAX_COMPARE_REPORT_BYTES} bytes`);
    return await h.readFile('utf8');
  } finally {
    await h.close();
  }
}

function runProbeCommand(python: string, rest: string[]): Promise<number> {
  return new Promise((done) => {
    const child = spawn(python, ['-m', 'memdelta_probe', ...rest], {
      stdio: 'inherit',
      env: { ...process.env, PYTHONPATH: defaultProbeDir() },
    });
    child.on('error', (e) => {
      process.stderr.write(`memdelta: cannot run ${python}: ${e.message}\n`);
      done(2);
    });
    child.on('exit', (code, signal) => done(code ?? (signal ? 2 : 0)));
  });
}

/** Runs the CLI and returns its exit status. The single place where errors become messages. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let compareArgs: CompareArgs | undefined;
  try {
    const cmd = parseArgs(argv);
    switch (cmd.command) {
      case 'help':
        io.stdout.write(USAGE + '\n');
        return 0;
      case 'version':
        io.stdout.write(VERSION + '\n');
        return 0;
      case 'render':
        return await runRender(cmd.report, cmd.format, cmd.color, io);
      case 'probe':
        return await runProbeCommand(cmd.python, cmd.rest);
      case 'aggregate':
        return await runAggregate(cmd, io);
      case 'compare':
        compareArgs = cmd.args;
        return await runCompare(cmd.args, io);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`memdelta: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    const known =
      e instanceof Error && e.name !== 'Error' && e.name !== 'TypeError' && e.name !== 'RangeError';
    const message = e instanceof Error ? e.message : String(e);
    return failedCompare(known ? message : `unexpected error: ${message}`, compareArgs, io);
  }
}
