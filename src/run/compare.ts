/**
 * The compare engine: materialises base and head, runs every scenario on both under the probe, validates the
 * reports, matches and diffs sites, checks budgets and returns the compare report. Cheap first: both sides run
 * without the peak breakdown at a shallow depth; only scenarios whose numbers moved are measured again in detail
 * (the breakdown when the peak moved, deeper frames when a changed site could not be attributed to the project).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { selectShard, type ShardSpec } from '../plan/shard.js';
import type { Plan, Scenario } from '../plan/types.js';
import { diffSites, isProjectFile } from '../report/diff.js';
import type {
  CompareReport,
  GcDiff,
  ProbeReport,
  ScenarioError,
  ScenarioResult,
  SideDetail,
} from '../report/types.js';
import { formatBytes } from '../render/format.js';
import { checkBudgets, isBeyondNoise, overallVerdict } from '../report/verdict.js';
import type { CleanupRegistry } from './cleanup.js';
import type { Git } from './git.js';
import { mentionsOutOfMemory } from './memory-limit.js';
import type { ProcessOutcome } from './process.js';
import {
  BaseCache,
  baseCacheKey,
  interpreterVersion,
  probeFingerprint,
  type CacheEnvironment,
  type CachePass,
} from './base-cache.js';
import { runProbe } from './probe.js';
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

type Side = 'base' | 'head';
type SideRun =
  | { ok: true; report: ProbeReport; reused?: boolean }
  | { ok: false; error: ScenarioError; missingTarget: boolean };

/** What every scenario of one compare shares: worktrees, the probe slots, the lazy setups, the cache. */
interface Run {
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

/** A FIFO limit of `n` concurrent tasks. */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    else active++;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

interface Mode {
  pass: 'cheap' | 'detail' | 'rss';
  frames: number;
  peakSites: boolean;
  peakHint?: number;
  rssOnly?: boolean;
}

const TAIL_LINES = 20;

/** Longest tail line kept; the compare report's schema allows 10 000 characters, a benchmark may print 1 GB. */
const TAIL_LINE_CHARS = 2000;

/** The end of a long line, marked as cut, never starting inside a surrogate pair. */
function capLine(line: string): string {
  if (line.length <= TAIL_LINE_CHARS) return line;
  let end = line.slice(-TAIL_LINE_CHARS);
  if (/^[\uDC00-\uDFFF]/.test(end)) end = end.slice(1);
  return `…${end}`;
}

function tailLines(text: string, n = TAIL_LINES): string[] {
  const lines = text.replace(/\s+$/, '').split(/\r?\n/);
  return lines
    .slice(Math.max(0, lines.length - n))
    .filter((l, i, a) => l !== '' || i < a.length - 1)
    .map(capLine);
}

function processFailure(side: Side, o: ProcessOutcome, timeoutMs: number): ScenarioError | undefined {
  const tail = tailLines(o.stderrTail);
  const escaped = o.leftovers.length > 0 ? `; left processes behind, killed: ${o.leftovers.join(', ')}` : '';
  switch (o.kind) {
    case 'spawn':
      return {
        side,
        reason: 'spawn',
        message: `could not start the probe: ${o.error ?? 'unknown error'}`,
        tail,
      };
    case 'timeout':
      return {
        side,
        reason: 'timeout',
        message: `timed out after ${Math.round(timeoutMs / 1000)} s and was killed${escaped}`,
        tail,
      };
    case 'signal':
      if (o.cancelled) return { side, reason: 'cancelled', message: 'cancelled', tail };
      return o.likelyOom
        ? {
            side,
            reason: 'oom',
            message: `killed by ${o.signal ?? 'SIGKILL'}, likely out of memory${escaped}`,
            tail,
          }
        : { side, reason: 'signal', message: `killed by ${o.signal ?? 'a signal'}${escaped}`, tail };
    default:
      return undefined;
  }
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
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.registry ? { registry: opts.registry } : {}),
    ...(opts.parentEnv ? { parentEnv: opts.parentEnv } : {}),
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

/**
 * A run that ended because it hit the scenario's memory limit: the probe reported a MemoryError, or the run died
 * (killed, or no report) with output saying an allocation failed. Undefined when there is no limit or no sign.
 */
function overMemoryLimit(
  side: Side,
  scenario: Scenario,
  o: ProcessOutcome,
  report: ProbeReport | undefined,
): ScenarioError | undefined {
  const limit = scenario.memoryLimit;
  if (limit === undefined || o.kind === 'timeout' || o.cancelled || o.kind === 'spawn') return undefined;
  const what = `over memory limit (${formatBytes(limit)})`;
  if (report?.error?.type === 'MemoryError') {
    const tail = report.error.traceback.length > 0 ? report.error.traceback.slice(-TAIL_LINES) : [];
    return { side, reason: 'memory-limit', message: `${what}: MemoryError`, tail };
  }
  const died = o.kind === 'signal' || report === undefined;
  if (died && (o.likelyOom || mentionsOutOfMemory(o.stderrTail))) {
    const how =
      o.kind === 'signal' ? `killed by ${o.signal ?? 'a signal'}` : `exit code ${o.exitCode ?? 'none'}`;
    return { side, reason: 'memory-limit', message: `${what}: ${how}`, tail: tailLines(o.stderrTail) };
  }
  return undefined;
}

async function classify(side: Side, scenario: Scenario, o: ProcessOutcome, out: string): Promise<SideRun> {
  if (o.kind === 'signal' || o.kind === 'exit') {
    const read = o.kind === 'exit' ? await readProbeReport(out) : undefined;
    const limited = overMemoryLimit(side, scenario, o, read?.ok ? read.report : undefined);
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

async function both<T>(
  sequential: boolean | undefined,
  a: () => Promise<T>,
  b: () => Promise<T>,
): Promise<[T, T]> {
  if (sequential) {
    const x = await a();
    return [x, await b()];
  }
  return Promise.all([a(), b()]);
}

function detailOf(r: ProbeReport, reused = false): SideDetail {
  return {
    source: reused ? 'reused' : 'measured',
    frames: r.settings.frames,
    peakSites: r.settings.peak_sites,
    python: r.python.version,
    exitCode: r.exit_code,
    wallTime: r.wall_time,
  };
}

function totals(r: ProbeReport) {
  return { peak: r.peak, retained: r.retained, ...(r.leak ? { leak: r.leak.per_iteration } : {}) };
}

function gcDiff(base: ProbeReport | null, head: ProbeReport): GcDiff | undefined {
  if (!head.gc) return undefined;
  const growth = new Map<string, { base: number; head: number }>();
  for (const g of base?.gc?.growth ?? []) growth.set(g.type, { base: g.delta, head: 0 });
  for (const g of head.gc.growth) growth.set(g.type, { base: growth.get(g.type)?.base ?? 0, head: g.delta });
  return {
    uncollectable: { base: base?.gc?.uncollectable.count ?? 0, head: head.gc.uncollectable.count },
    cyclic: {
      base: base?.gc?.cyclic.objects ?? 0,
      head: head.gc.cyclic.objects,
      bytes: { base: base?.gc?.cyclic.bytes ?? 0, head: head.gc.cyclic.bytes },
    },
    growth: [...growth.entries()]
      .map(([type, v]) => ({ type, base: v.base, head: v.head, delta: v.head - v.base }))
      .filter((g) => g.delta !== 0)
      .sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta) || (x.type < y.type ? -1 : 1))
      .slice(0, 20),
  };
}

function emptyResult(scenario: Scenario): ScenarioResult {
  return {
    name: scenario.name,
    status: 'error',
    base: { peak: 0, retained: 0 },
    head: { peak: 0, retained: 0 },
    delta: { peak: 0, retained: 0 },
    budget: [],
    sites: [],
    ...(scenario.iterations > 1 ? { iterations: scenario.iterations } : {}),
  };
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
  const result = emptyResult(scenario);

  if (!head.ok) {
    // A head that cannot be measured is an error whatever base did; base's numbers are still shown.
    result.error = head.missingTarget
      ? { ...head.error, message: `${head.error.message} (the benchmark does not exist on head)` }
      : head.error;
    if (base.ok) {
      result.base = totals(base.report);
      result.detail = { base: detailOf(base.report, base.reused) };
    } else if (!base.missingTarget) {
      result.baseError = base.error;
    }
    return result;
  }

  // Detail pass: only where the cheap numbers moved.
  if (base.ok) {
    const peakMoved = isBeyondNoise(base.report.peak, head.report.peak, floor);
    const cheapSites = diffSites(base.report, head.report, floor);
    const unattributed = cheapSites.sites.some((s) => s.status !== 'same' && !isProjectFile(s.file));
    const deeper = unattributed && plan.detailFrames > plan.frames;
    if (peakMoved || deeper) {
      const frames = deeper ? plan.detailFrames : plan.frames;
      const detail = (side: Side, cheapPeak: number) =>
        measure(run, side, index, scenario, {
          pass: 'detail',
          frames,
          peakSites: peakMoved,
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
        result.error = { ...h2.error, message: `detail pass: ${h2.error.message}` };
        return result;
      }
      head = h2;
      if (b2.ok) base = b2;
      else result.baseError = { ...b2.error, message: `detail pass: ${b2.error.message}` };
    }
  }

  const h = head.report;
  const b = base.ok ? base.report : null;
  // Totals and gc findings come from the cheap pass: the breakdown pass's hook keeps a little state of its own
  // (a few KB in the leak series, probe objects at the peak), which the cheap pass does not have.
  const hTotals = cheapHead.ok ? cheapHead.report : h;
  const bTotals = b && cheapBase.ok ? cheapBase.report : b;
  if (!base.ok && !base.missingTarget) result.baseError = base.error;
  result.status = b ? 'ok' : 'no-baseline';
  result.head = totals(hTotals);
  result.base = bTotals ? totals(bTotals) : { peak: 0, retained: 0 };
  result.detail = {
    head: detailOf(h),
    ...(b
      ? { base: detailOf(b, base.ok && base.reused === true && (!cheapBase.ok || cheapBase.reused === true)) }
      : {}),
  };

  if (opts.rss) {
    const rssMode: Mode = { pass: 'rss', frames: 1, peakSites: false, rssOnly: true };
    const [rb, rh] = await both(
      opts.sequential,
      () => (b ? measure(run, 'base', index, scenario, rssMode) : Promise.resolve(null)),
      () => measure(run, 'head', index, scenario, rssMode),
    );
    if (rh?.ok && rh.report.rss !== null) result.head.rss = rh.report.rss;
    if (rb?.ok && rb.report.rss !== null) result.base.rss = rb.report.rss;
  }

  const diff = diffSites(b, h, floor);
  result.sites = diff.sites;
  result.sameSites = diff.sameSites;
  result.delta = {
    peak: result.head.peak - result.base.peak,
    retained: result.head.retained - result.base.retained,
    ...(result.head.leak !== undefined ? { leak: result.head.leak - (result.base.leak ?? 0) } : {}),
    ...(result.head.rss !== undefined && result.base.rss !== undefined
      ? { rss: result.head.rss - result.base.rss }
      : {}),
  };
  result.budget = checkBudgets(scenario.budgets, b ? result.base : undefined, result.head, floor);
  const gc = gcDiff(bTotals, hTotals);
  if (gc) result.gc = gc;
  return result;
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
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.registry ? { registry: opts.registry } : {}),
      ...(opts.parentEnv ? { parentEnv: opts.parentEnv } : {}),
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
    const selected = opts.shard
      ? selectShard(opts.plan.scenarios, opts.shard)
      : opts.plan.scenarios.map((item, position) => ({ item, position }));
    const settled = await Promise.allSettled(
      selected.map(({ item, position }) => compareScenario(run, position, item)),
    );
    if (opts.signal?.aborted) throw new CompareError('cancelled');
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const scenarios = settled.map((r) => (r as PromiseFulfilledResult<ScenarioResult>).value);
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
              positions: selected.map((x) => x.position),
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
