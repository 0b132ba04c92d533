/**
 * The compare engine: materialises base and head, runs every scenario on both under the probe, validates the
 * reports, matches and diffs sites, checks budgets and returns the compare report. Cheap first: both sides run
 * without the peak breakdown at a shallow depth; only scenarios whose numbers moved are measured again in detail
 * (the breakdown when the peak moved, deeper frames when a changed site could not be attributed to the project).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { shardOf, type ShardSpec } from '../plan/shard.js';
import type { Plan, Scenario } from '../plan/types.js';
import { detailNeed, emptyResult, headErrorResult, judge } from '../report/judge.js';
import {
  POSITION_STRIDE,
  type CompareReport,
  type ProbeReport,
  type ScenarioError,
  type ScenarioResult,
} from '../report/types.js';
import { overallVerdict } from '../report/verdict.js';
import type { CleanupRegistry } from './cleanup.js';
import type { Git } from './git.js';
import { overMemoryLimit, processFailure, tailLines, TAIL_LINES } from './failure.js';
import { childBounds, type ProcessOutcome } from './process.js';
import {
  BaseCache,
  baseCacheKey,
  interpreterVersion,
  probeFingerprint,
  type CacheEnvironment,
  type CachePass,
} from './base-cache.js';
import { both, limiter } from './pool.js';
import { runProbe } from './probe.js';
import { compareSuite, type Placed } from './suite.js';
import { readProbeReport } from './read-report.js';
import { describeSetupFailure, runSetup } from './setup.js';
import { makeWorktrees, resolveCommit } from './worktree.js';

/** A progress notice for the terminal: one per side, scenario and pass. */
export interface Progress {
  side: 'base' | 'head';
  scenario?: string;
  phase: 'setup' | 'cheap' | 'detail' | 'rss';
  /** `reused`: a base pass served from the base-report cache. */
  state: 'start' | 'done' | 'failed' | 'reused';
  message?: string;
}

/** Everything the engine needs; the git client and paths come from the entry point. */
export interface CompareOptions {
  git: Git;
  baseRef: string;
  headRef: string;
  plan: Plan;
  /** Folder containing the `memdelta_probe` package. */
  probeDir: string;
  /** Run base and head one after the other (less memory) instead of side by side. */
  sequential?: boolean;
  /** Also measure peak RSS in an untraced run of each side. */
  rss?: boolean;
  /** Where the temporary worktrees are made; default the system temp folder. */
  tmpParent?: string;
  signal?: AbortSignal;
  registry?: CleanupRegistry;
  parentEnv?: Record<string, string | undefined>;
  onProgress?: (p: Progress) => void;
  /** Written into the report's settings for the footer. */
  memdeltaVersion: string;
  repositoryUrl?: string;
  command?: string;
  /** Refs as the user named them, for the report; default the refs given. */
  refNames?: { base: string; head: string };
  /** Folder of the base-report cache (see base-cache.ts); undefined: every base pass is measured. */
  cacheDir?: string;
  /** Run only this slice of the scenarios and write a partial report (see plan/shard.ts). */
  shard?: ShardSpec;
}

/** A compare that could not start (bad ref, no git repository, worktree failure). */
export class CompareError extends Error {
  override readonly name = 'CompareError';
}

/** One side of a compare. */
export type Side = 'base' | 'head';
type SideRun =
  | { ok: true; report: ProbeReport; reused?: boolean }
  | { ok: false; error: ScenarioError; missingTarget: boolean };

/** What every scenario of one compare shares: worktrees, the probe slots, the lazy setups, the cache. */
export interface Run {
  opts: CompareOptions;
  wt: { base: string; head: string };
  reports: string;
  baseSha: string;
  /** Probe runs at once: two (base and head side by side, or two heads when base is cached), one in sequence. */
  slot: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The side's setup command, run once on first need; its error, if it failed. */
  setup: (side: Side) => Promise<ScenarioError | undefined>;
  cache?: { store: BaseCache; env: CacheEnvironment };
}

interface Mode {
  pass: 'cheap' | 'detail' | 'rss';
  frames: number;
  peakSites: boolean;
  peakHint?: number;
  rssOnly?: boolean;
}

/** Whether a failed run says the target itself does not exist on this side (a new benchmark). */
function isMissingTarget(scenario: Scenario, report: ProbeReport): boolean {
  const err = report.error;
  if (!err) return false;
  const module = scenario.target.spec.split(':')[0] ?? '';
  if (err.type === 'ModuleNotFoundError') {
    // "No module named 'pkg.sub'": missing when the named module is the target or one of its parents.
    const named = /No module named '([^']+)'/.exec(err.message)?.[1];
    return named !== undefined && (module === named || module.startsWith(`${named}.`));
  }
  if (err.type === 'AttributeError' && scenario.target.kind === 'callable') {
    const fn = scenario.target.spec.split(':')[1] ?? '';
    return err.message.includes(`'${fn.split('.')[0]}'`);
  }
  if (err.type === 'FileNotFoundError' && scenario.target.kind === 'script') {
    return err.message.includes(scenario.target.spec);
  }
  return false;
}

/**
 * Measures one pass on one side: from the base cache when it has the pass, else by running the probe (after the
 * side's setup) and storing a successful base report.
 */
async function measure(
  run: Run,
  side: Side,
  index: number,
  scenario: Scenario,
  mode: Mode,
): Promise<SideRun> {
  const { opts, reports } = run;
  const root = run.wt[side];
  const cache = side === 'base' && mode.pass !== 'rss' ? run.cache : undefined;
  const key = cache
    ? baseCacheKey(
        run.baseSha,
        opts.plan,
        scenario,
        { pass: mode.pass as CachePass['pass'], frames: mode.frames, peakSites: mode.peakSites },
        cache.env,
      )
    : undefined;
  if (cache && key) {
    const hit = await cache.store.read(key);
    if (hit) {
      opts.onProgress?.({ side, scenario: scenario.name, phase: mode.pass, state: 'reused' });
      return { ok: true, report: hit, reused: true };
    }
  }
  const setupError = await run.setup(side);
  if (setupError) return { ok: false, missingTarget: false, error: setupError };
  const result = await run.slot(() => probeOnce(opts, side, root, reports, index, scenario, mode));
  if (cache && key && result.ok) await cache.store.write(key, result.report);
  return result;
}

/** Runs the probe once on one side and classifies how it ended. */
async function probeOnce(
  opts: CompareOptions,
  side: Side,
  root: string,
  reports: string,
  index: number,
  scenario: Scenario,
  mode: Mode,
): Promise<SideRun> {
  if (scenario.target.kind === 'script' && !existsSync(join(root, scenario.target.spec))) {
    return {
      ok: false,
      missingTarget: true,
      error: {
        side,
        reason: 'missing',
        message: `${scenario.target.spec} does not exist on ${side}`,
        tail: [],
      },
    };
  }
  const out = join(reports, `${side}-${index}-${mode.pass}.json`);
  opts.onProgress?.({ side, scenario: scenario.name, phase: mode.pass, state: 'start' });
  const run = await runProbe({
    python: opts.plan.python,
    probeDir: opts.probeDir,
    root,
    target: scenario.target,
    out,
    frames: mode.frames,
    iterations: scenario.iterations,
    warmup: scenario.warmup,
    ...(scenario.setupCallable ? { setupCallable: scenario.setupCallable } : {}),
    peakSites: mode.peakSites,
    ...(mode.peakHint !== undefined ? { peakHint: mode.peakHint } : {}),
    ...(mode.rssOnly ? { rssOnly: true } : {}),
    ...(scenario.memoryLimit !== undefined ? { memoryLimit: scenario.memoryLimit } : {}),
    extraEnv: opts.plan.env,
    timeoutMs: scenario.timeoutMs,
    ...childBounds(opts),
  });
  const result = await classify(side, scenario, run.outcome, out);
  opts.onProgress?.({
    side,
    scenario: scenario.name,
    phase: mode.pass,
    state: result.ok ? 'done' : 'failed',
    ...(result.ok ? {} : { message: result.error.message }),
  });
  return result;
}

async function classify(side: Side, scenario: Scenario, o: ProcessOutcome, out: string): Promise<SideRun> {
  if (o.kind === 'signal' || o.kind === 'exit') {
    const read = o.kind === 'exit' ? await readProbeReport(out) : undefined;
    const limited = overMemoryLimit(side, scenario.memoryLimit, o, read?.ok ? read.report : undefined);
    if (limited) return { ok: false, error: limited, missingTarget: false };
  }
  const failed = processFailure(side, o, scenario.timeoutMs);
  if (failed) return { ok: false, error: failed, missingTarget: false };
  const read = await readProbeReport(out);
  if (!read.ok) {
    return {
      ok: false,
      missingTarget: false,
      error: {
        side,
        reason: read.reason,
        message: `${read.message} (probe exit code ${o.exitCode ?? 'none'})`,
        tail: tailLines(o.stderrTail),
      },
    };
  }
  const r = read.report;
  if (r.error || r.exit_code !== 0 || o.exitCode !== 0) {
    const message = r.error
      ? `${r.error.type}: ${r.error.message}`.slice(0, 2000)
      : `the benchmark exited with code ${r.exit_code !== 0 ? r.exit_code : o.exitCode}`;
    const tail =
      r.error && r.error.traceback.length > 0
        ? r.error.traceback.slice(-TAIL_LINES)
        : tailLines(o.stderrTail);
    return {
      ok: false,
      missingTarget: isMissingTarget(scenario, r),
      error: { side, reason: 'exit', message, tail },
    };
  }
  return { ok: true, report: r };
}

/** Measures one scenario on both sides and judges it. */
async function compareScenario(run: Run, index: number, scenario: Scenario): Promise<ScenarioResult> {
  const opts = run.opts;
  const plan = opts.plan;
  const floor = scenario.minDelta;
  const cheap: Mode = { pass: 'cheap', frames: plan.frames, peakSites: false };
  const [cheapBase, cheapHead] = await both(
    opts.sequential,
    () => measure(run, 'base', index, scenario, cheap),
    () => measure(run, 'head', index, scenario, cheap),
  );
  let base = cheapBase;
  let head = cheapHead;

  if (!head.ok) {
    const error = head.missingTarget
      ? { ...head.error, message: `${head.error.message} (the benchmark does not exist on head)` }
      : head.error;
    return headErrorResult(
      scenario,
      error,
      base.ok
        ? { report: base.report, reused: base.reused === true }
        : base.missingTarget
          ? {}
          : { error: base.error },
    );
  }

  // Detail pass: only where the cheap numbers moved.
  let baseError: ScenarioError | undefined;
  if (base.ok) {
    const need = detailNeed(plan, floor, base.report, head.report);
    if (need) {
      const detail = (side: Side, cheapPeak: number) =>
        measure(run, side, index, scenario, {
          pass: 'detail',
          frames: need.frames,
          peakSites: need.peakSites,
          peakHint: cheapPeak,
        });
      const basePeak = base.report.peak;
      const headPeak = head.report.peak;
      const [b2, h2] = await both(
        opts.sequential,
        () => detail('base', basePeak),
        () => detail('head', headPeak),
      );
      // A detail pass that fails where the cheap one succeeded is flaky code; report it rather than hide it.
      if (!h2.ok) {
        const result = emptyResult(scenario);
        result.error = { ...h2.error, message: `detail pass: ${h2.error.message}` };
        return result;
      }
      head = h2;
      if (b2.ok) base = b2;
      else baseError = { ...b2.error, message: `detail pass: ${b2.error.message}` };
    }
  }
  if (!base.ok && !base.missingTarget) baseError = base.error;
  const measured = base.ok && cheapBase.ok;

  let rss: { base?: number; head?: number } | undefined;
  if (opts.rss) {
    const rssMode: Mode = { pass: 'rss', frames: 1, peakSites: false, rssOnly: true };
    const [rb, rh] = await both(
      opts.sequential,
      () => (measured ? measure(run, 'base', index, scenario, rssMode) : Promise.resolve(null)),
      () => measure(run, 'head', index, scenario, rssMode),
    );
    rss = {
      ...(rh?.ok && rh.report.rss !== null ? { head: rh.report.rss } : {}),
      ...(rb?.ok && rb.report.rss !== null ? { base: rb.report.rss } : {}),
    };
  }

  return judge(
    scenario,
    base.ok && cheapBase.ok
      ? {
          totals: cheapBase.report,
          sites: base.report,
          reused: base.reused === true && cheapBase.reused === true,
        }
      : null,
    { totals: cheapHead.ok ? cheapHead.report : head.report, sites: head.report, reused: false },
    { ...(baseError ? { baseError } : {}), ...(rss ? { rss } : {}) },
  );
}

/** The side's setup command as a lazy, run-once task (a base served from the cache never needs it). */
function lazySetups(
  opts: CompareOptions,
  wt: { base: string; head: string },
  slot: Run['slot'],
): Run['setup'] {
  const started: Partial<Record<Side, Promise<ScenarioError | undefined>>> = {};
  const command = opts.plan.setup;
  const one = async (side: Side): Promise<ScenarioError | undefined> => {
    if (!command) return undefined;
    opts.onProgress?.({ side, phase: 'setup', state: 'start' });
    const o = await runSetup({
      command,
      cwd: wt[side],
      extraEnv: opts.plan.env,
      timeoutMs: Math.max(...opts.plan.scenarios.map((s) => s.timeoutMs)),
      ...childBounds(opts),
    });
    const why = describeSetupFailure(command, o);
    opts.onProgress?.({
      side,
      phase: 'setup',
      state: why ? 'failed' : 'done',
      ...(why ? { message: why } : {}),
    });
    return why
      ? { side, reason: 'setup', message: why, tail: tailLines(o.stderrTail || o.stdoutTail) }
      : undefined;
  };
  return (side) => (started[side] ??= slot(() => one(side)));
}

/** The cache for this compare, or undefined when it is off or the interpreter cannot say its version. */
async function openCache(opts: CompareOptions, cwd: string): Promise<Run['cache']> {
  if (opts.cacheDir === undefined) return undefined;
  const python = await interpreterVersion(opts.plan.python, cwd, opts.parentEnv);
  if (python === undefined) return undefined;
  const probe = await probeFingerprint(opts.probeDir).catch(() => undefined);
  if (probe === undefined) return undefined;
  return { store: new BaseCache(opts.cacheDir), env: { python, probe } };
}

/**
 * Scenario names made unique: a test id equal to another scenario's name, or a test collected by two pytest
 * scenarios, gets ` (2)`, ` (3)`, ... appended in report order.
 */
function uniqueNames(placed: Placed[]): Placed[] {
  const seen = new Map<string, number>();
  return placed.map((p) => {
    const n = (seen.get(p.result.name) ?? 0) + 1;
    seen.set(p.result.name, n);
    return n === 1 ? p : { ...p, result: { ...p.result, name: `${p.result.name} (${n})` } };
  });
}

/**
 * Compares base and head. Problems of the comparison itself (a bad ref, a missing commit) throw
 * {@link CompareError}; problems of a scenario (a crash, a timeout, an invalid report) are reported in it.
 */
export async function compare(opts: CompareOptions): Promise<CompareReport> {
  let baseSha: string;
  let headSha: string;
  try {
    baseSha = await resolveCommit(opts.git, opts.baseRef);
    headSha = await resolveCommit(opts.git, opts.headRef);
  } catch (e) {
    throw new CompareError((e as Error).message);
  }
  const wt = await makeWorktrees(opts.git, {
    baseSha,
    headSha,
    ...(opts.tmpParent ? { parent: opts.tmpParent } : {}),
  }).catch((e: Error) => {
    throw new CompareError(`could not check out base and head: ${e.message}`);
  });
  try {
    const reports = join(wt.root, 'reports');
    await mkdir(reports, { recursive: true });
    const slot = limiter(opts.sequential ? 1 : 2);
    const run: Run = {
      opts,
      wt,
      reports,
      baseSha,
      slot,
      setup: lazySetups(opts, wt, slot),
      cache: await openCache(opts, wt.head),
    };
    // Every scenario starts at once; the slots decide what runs. With base cached, two heads share the time.
    // A pytest scenario runs in every shard: its tests are what the shards split (by test id, in the plugin).
    const selected = opts.plan.scenarios
      .map((item, position) => ({ item, position }))
      .filter(
        ({ item }) =>
          !opts.shard ||
          item.target.kind === 'pytest' ||
          shardOf(item.name, opts.shard.count) === opts.shard.index,
      );
    const settled = await Promise.allSettled(
      selected.map(({ item, position }) =>
        item.target.kind === 'pytest'
          ? compareSuite(run, position, item)
          : compareScenario(run, position, item).then((result) => [
              { result, position: position * POSITION_STRIDE },
            ]),
      ),
    );
    if (opts.signal?.aborted) throw new CompareError('cancelled');
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const placed = uniqueNames(settled.flatMap((r) => (r as PromiseFulfilledResult<Placed[]>).value));
    const scenarios = placed.map((p) => p.result);
    const python = scenarios.map((s) => s.detail?.head?.python ?? s.detail?.base?.python).find(Boolean);
    return {
      schema: 'memdelta/compare@1',
      verdict: overallVerdict(scenarios),
      base: { ref: opts.refNames?.base ?? opts.baseRef, sha: baseSha },
      head: { ref: opts.refNames?.head ?? opts.headRef, sha: headSha },
      scenarios,
      ...(opts.shard
        ? {
            shard: {
              ...opts.shard,
              total: opts.plan.scenarios.length,
              positions: placed.map((p) => p.position),
            },
          }
        : {}),
      settings: {
        ...(python ? { python } : {}),
        frames: opts.plan.frames,
        minDelta: opts.plan.scenarios[0]?.minDelta ?? { bytes: 0, percent: 0 },
        memdeltaVersion: opts.memdeltaVersion,
        ...(opts.repositoryUrl ? { repositoryUrl: opts.repositoryUrl } : {}),
        ...(opts.command ? { command: opts.command } : {}),
      },
    };
  } finally {
    await wt.dispose();
  }
}
