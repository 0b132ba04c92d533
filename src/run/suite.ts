/**
 * A pytest scenario: pytest runs once per side under the plugin (`memdelta_probe.pytest_plugin`), which measures
 * each test's call phase on its own; every test becomes a scenario of the compare, named by its node id. Cheap
 * first, as for plain scenarios: one untraced-breakdown run per side, then, only if some tests moved, one more run
 * per side that measures just those tests in detail (the other tests still run, untraced, so that the measured ones
 * see the same state as in the cheap run).
 */
import { join } from 'node:path';
import { shardOf } from '../plan/shard.js';
import { formatBytes } from '../render/format.js';
import type { Scenario } from '../plan/types.js';
import { detailNeed, headErrorResult, judge, type Judged } from '../report/judge.js';
import {
  POSITION_STRIDE,
  type ProbeReport,
  type PytestRun,
  type PytestTest,
  type ScenarioError,
  type ScenarioResult,
} from '../report/types.js';
import { baseCacheKey } from './base-cache.js';
import type { Run, Side } from './compare.js';
import { memoryErrorUnderLimit, overMemoryLimit, processFailure, tailLines, TAIL_LINES } from './failure.js';
import { writeAtomic } from './load-plan.js';
import { both } from './pool.js';
import { mentionsOutOfMemory } from './memory-limit.js';
import { runPytest } from './probe.js';
import { childBounds } from './process.js';
import { readPytestRun } from './read-report.js';

/** A test's result and where it sorts among all scenarios (see `CompareReport.shard.positions`). */
export interface Placed {
  result: ScenarioResult;
  position: number;
}

type SuiteRun =
  { ok: true; run: PytestRun; reused: boolean } | { ok: false; error: ScenarioError; missing: boolean };

/** pytest's exit statuses (pytest.ExitCode). */
const EXIT = { ok: 0, testsFailed: 1, interrupted: 2, internal: 3, usage: 4, noTests: 5 } as const;

interface Pass {
  pass: 'cheap' | 'detail';
  frames: number;
  /** Detail pass: the tests to measure and their cheap peaks (null: no breakdown, deeper frames only). */
  hints?: Map<string, number | null>;
  /** Measure even when the cache has the run (it came from another pytest). */
  fresh?: boolean;
}

/** Why a pytest run did not give test results, worded for the report. `missing`: base has no such tests yet. */
function runFailure(
  side: Side,
  scenario: Scenario,
  python: string,
  exitCode: number | null,
  stderr: string,
  run: PytestRun | undefined,
  shard: boolean,
): { error: ScenarioError; missing: boolean } | undefined {
  const tail = tailLines(stderr);
  if (/No module named '?pytest'?$/m.test(stderr) && !run) {
    return {
      missing: false,
      error: {
        side,
        reason: 'setup',
        message: `pytest is not installed for ${python}: memdelta runs the project's own pytest and never installs it (install it in the setup step or the workflow)`,
        tail,
      },
    };
  }
  if (run === undefined) return undefined;
  const code = run.exit_code;
  if (code === EXIT.ok || code === EXIT.testsFailed) return undefined;
  if (code === EXIT.noTests) {
    if (shard && run.collected > 0) return undefined; // this shard's slice is empty
    return {
      missing: true,
      error: {
        side,
        reason: 'exit',
        message: `pytest collected no tests for "${scenario.target.spec}"`,
        tail,
      },
    };
  }
  if (code === EXIT.interrupted && run.errors.length > 0) {
    const first = run.errors[0] as PytestRun['errors'][number];
    const more = run.errors.length > 1 ? ` (and ${run.errors.length - 1} more)` : '';
    return {
      missing: false,
      error: {
        side,
        reason: 'exit',
        message: `pytest could not collect ${first.id || 'the tests'}: ${first.message}${more}`.slice(
          0,
          2000,
        ),
        tail: first.traceback.slice(-TAIL_LINES),
      },
    };
  }
  if (code === EXIT.internal && scenario.memoryLimit !== undefined && mentionsOutOfMemory(stderr)) {
    return {
      missing: false,
      error: {
        side,
        reason: 'memory-limit',
        message: `over memory limit (${formatBytes(scenario.memoryLimit)}): pytest could not go on after a MemoryError`,
        tail,
      },
    };
  }
  const what =
    code === EXIT.usage ? 'a usage error' : code === EXIT.internal ? 'an internal error' : `code ${code}`;
  return {
    missing: code === EXIT.usage && /file or directory not found/.test(stderr),
    error: {
      side,
      reason: 'exit',
      message: `pytest ended with ${what} (exit code ${exitCode ?? code})`,
      tail,
    },
  };
}

/** One pytest run on one side: from the base cache when it has it, else measured (and stored when all passed). */
async function suitePass(
  run: Run,
  side: Side,
  index: number,
  scenario: Scenario,
  p: Pass,
): Promise<SuiteRun> {
  const { opts } = run;
  const shard = opts.shard;
  const selection = JSON.stringify({ shard: shard ?? null, hints: p.hints ? [...p.hints] : null });
  const cache = side === 'base' ? run.cache : undefined;
  const key = cache
    ? baseCacheKey(
        run.baseSha,
        opts.plan,
        scenario,
        { pass: p.pass, frames: p.frames, peakSites: p.pass === 'detail', selection },
        cache.env,
      )
    : undefined;
  if (cache && key && !p.fresh) {
    const hit = await cache.store.readPytest(key);
    if (hit) {
      opts.onProgress?.({ side, scenario: scenario.name, phase: p.pass, state: 'reused' });
      return { ok: true, run: hit, reused: true };
    }
  }
  const setupError = await run.setup(side);
  if (setupError) return { ok: false, error: setupError, missing: false };
  const result = await run.slot(() => pytestOnce(run, side, index, scenario, p));
  // Only runs in which every test passed are read back (BaseCache.readPytest); storing others is wasted work.
  if (cache && key && result.ok && result.run.exit_code === 0 && result.run.errors.length === 0) {
    await cache.store.write(key, result.run);
  }
  return result;
}

async function pytestOnce(
  run: Run,
  side: Side,
  index: number,
  scenario: Scenario,
  p: Pass,
): Promise<SuiteRun> {
  const { opts, reports } = run;
  const out = join(reports, `${side}-${index}-${p.pass}.pytest.json`);
  let hintsFile: string | undefined;
  if (p.hints) {
    hintsFile = join(reports, `${side}-${index}-${p.pass}.hints.json`);
    await writeAtomic(hintsFile, JSON.stringify({ tests: Object.fromEntries(p.hints) }));
  }
  opts.onProgress?.({ side, scenario: scenario.name, phase: p.pass, state: 'start' });
  const { outcome } = await runPytest({
    python: opts.plan.python,
    probeDir: opts.probeDir,
    root: run.wt[side],
    target: scenario.target,
    out,
    frames: p.frames,
    ...(hintsFile ? { hintsFile } : {}),
    ...(opts.shard ? { shard: opts.shard } : {}),
    ...(scenario.memoryLimit !== undefined ? { memoryLimit: scenario.memoryLimit } : {}),
    extraEnv: opts.plan.env,
    timeoutMs: scenario.timeoutMs,
    ...childBounds(opts),
  });
  const result = await classifyRun(run, side, scenario, outcome, out);
  opts.onProgress?.({
    side,
    scenario: scenario.name,
    phase: p.pass,
    state: result.ok ? 'done' : 'failed',
    ...(result.ok ? {} : { message: result.error.message }),
  });
  return result;
}

async function classifyRun(
  run: Run,
  side: Side,
  scenario: Scenario,
  o: Parameters<typeof processFailure>[1],
  out: string,
): Promise<SuiteRun> {
  const read = o.kind === 'ok' || o.kind === 'exit' ? await readPytestRun(out) : undefined;
  if (o.kind === 'signal' || (read !== undefined && !read.ok)) {
    const limited = overMemoryLimit(side, scenario.memoryLimit, o, undefined);
    if (limited) return { ok: false, error: limited, missing: false };
  }
  const failed = processFailure(side, o, scenario.timeoutMs);
  if (failed) return { ok: false, error: failed, missing: false };
  const parsed = read?.ok ? read.report : undefined;
  const why = runFailure(
    side,
    scenario,
    run.opts.plan.python,
    o.exitCode,
    o.stderrTail,
    parsed,
    run.opts.shard !== undefined,
  );
  if (why) return { ok: false, ...why };
  if (!read || !read.ok) {
    return {
      ok: false,
      missing: false,
      error: {
        side,
        reason: read?.reason ?? 'report-missing',
        message: `${read?.message ?? 'pytest wrote no results'} (pytest exit code ${o.exitCode ?? 'none'})`,
        tail: tailLines(o.stderrTail),
      },
    };
  }
  return { ok: true, run: read.report, reused: false };
}

/** Whether a test did not run (skipped, or an expected failure that ended before its call): nothing to report. */
function didNotRun(t: PytestTest): boolean {
  return t.outcome === 'skipped' || t.outcome === 'not-run' || (t.outcome === 'xfailed' && t.report === null);
}

/** Tests that ran their call phase, in this shard (the plugin selects them too; this is the check). */
function measuredTests(run: PytestRun, shard: Run['opts']['shard']): PytestTest[] {
  return run.tests.filter(
    (t) => !didNotRun(t) && (shard === undefined || shardOf(t.id, shard.count) === shard.index),
  );
}

/** A test whose call ran and passed (or failed as expected): its report can be compared. */
function usable(t: PytestTest | undefined): ProbeReport | undefined {
  if (!t || !t.report || t.report.error !== null) return undefined;
  return t.outcome === 'passed' || t.outcome === 'xfailed' || t.outcome === 'xpassed' ? t.report : undefined;
}

/** The error of a test that failed (in its call, or in a fixture around it). */
function testError(side: Side, scenario: Scenario, t: PytestTest): ScenarioError {
  const err = t.report?.error ?? t.error;
  const limited = memoryErrorUnderLimit(side, scenario.memoryLimit, err);
  if (limited) return limited;
  if (!err && t.report === null && t.phase === 'call') {
    return {
      side,
      reason: 'exit',
      message: `the test ${t.outcome} but its call was not measured: it ran in another process (pytest-xdist's -n?); memdelta measures tests in one process`,
      tail: [],
    };
  }
  const where = t.phase === 'call' ? 'the test failed' : `its fixtures failed in ${t.phase}`;
  return {
    side,
    reason: 'exit',
    message: `${where}: ${err ? `${err.type}: ${err.message}` : t.outcome}`.slice(0, 2000),
    tail: err ? err.traceback.slice(-TAIL_LINES) : [],
  };
}

/**
 * Compares a pytest scenario: one result per test that ran on head (a test only on head is `no-baseline`; a test
 * only on base is not reported), or a single error result named after the scenario when pytest itself failed on
 * head.
 */
export async function compareSuite(run: Run, index: number, scenario: Scenario): Promise<Placed[]> {
  const { opts } = run;
  const plan = opts.plan;
  const cheap: Pass = { pass: 'cheap', frames: plan.frames };
  const [cheapBase, h] = await both(
    opts.sequential,
    () => suitePass(run, 'base', index, scenario, cheap),
    () => suitePass(run, 'head', index, scenario, cheap),
  );
  let b = cheapBase;
  const at = index * POSITION_STRIDE;
  // An error of the whole pytest run is every shard's; one shard (the scenario name's) reports it, so that the
  // shards' reports still merge.
  const reportsSuiteErrors = !opts.shard || shardOf(scenario.name, opts.shard.count) === opts.shard.index;
  if (!h.ok) {
    if (!reportsSuiteErrors) return [];
    const result = headErrorResult(scenario, h.error, b.ok || b.missing ? {} : { error: b.error });
    return [{ result, position: at }];
  }
  if (b.ok && b.reused && b.run.pytest_version !== h.run.pytest_version) {
    // pytest's own allocations are inside each test's window: a base measured under another pytest is not a base.
    b = await suitePass(run, 'base', index, scenario, { ...cheap, fresh: true });
  }
  if (measuredTests(h.run, opts.shard).length === 0 && opts.shard === undefined) {
    // Nothing measured is not a pass: every test was skipped, or the selection matched none that ran.
    const skipped = h.run.tests.filter((t) => t.outcome === 'skipped').length;
    const error: ScenarioError = {
      side: 'head',
      reason: 'exit',
      message: `no test ran on head: pytest collected ${h.run.collected}, ${skipped} skipped`,
      tail: [],
    };
    return [{ result: headErrorResult(scenario, error, {}), position: at }];
  }
  const suiteBaseError = !b.ok && !b.missing ? b.error : undefined;
  const baseTests = new Map((b.ok ? b.run.tests : []).map((t) => [t.id, t]));
  const headTests = measuredTests(h.run, opts.shard);
  const judged = (t: PytestTest): Judged => ({
    name: t.id,
    budgets: scenario.budgets,
    minDelta: scenario.minDelta,
    iterations: t.report?.settings.iterations ?? 1,
  });

  // Which tests need a detail pass, and how deep.
  const hints: Record<Side, Map<string, number | null>> = { base: new Map(), head: new Map() };
  let frames = plan.frames;
  for (const t of headTests) {
    const hr = usable(t);
    const br = usable(baseTests.get(t.id));
    if (!hr || !br) continue;
    const need = detailNeed(plan, scenario.minDelta, br, hr);
    if (!need) continue;
    frames = Math.max(frames, need.frames);
    hints.base.set(t.id, need.peakSites ? br.peak : null);
    hints.head.set(t.id, need.peakSites ? hr.peak : null);
  }
  let detailBase: SuiteRun | undefined;
  let detailHead: SuiteRun | undefined;
  if (hints.head.size > 0) {
    [detailBase, detailHead] = await both(
      opts.sequential,
      () => suitePass(run, 'base', index, scenario, { pass: 'detail', frames, hints: hints.base }),
      () => suitePass(run, 'head', index, scenario, { pass: 'detail', frames, hints: hints.head }),
    );
  }
  const detailOf = (d: SuiteRun | undefined) => new Map((d?.ok ? d.run.tests : []).map((t) => [t.id, t]));
  const baseDetail = detailOf(detailBase);
  const headDetail = detailOf(detailHead);

  return headTests.map((t): Placed => {
    const position = at + 1 + t.index;
    const s = judged(t);
    const bt = baseTests.get(t.id);
    const br = usable(bt);
    const baseFailed = bt !== undefined && !br && !didNotRun(bt);
    const baseError = suiteBaseError ?? (baseFailed ? testError('base', scenario, bt) : undefined);
    const hr = usable(t);
    if (!hr) {
      const result = headErrorResult(
        s,
        testError('head', scenario, t),
        br ? { report: br, reused: b.ok && b.reused } : baseError ? { error: baseError } : {},
      );
      return { result, position };
    }
    let hSites = hr;
    let bSites = br;
    let detailError: ScenarioError | undefined;
    let baseDetailError: ScenarioError | undefined;
    if (hints.head.has(t.id) && detailHead) {
      const dh = headDetail.get(t.id);
      const got = usable(dh);
      if (got) hSites = got;
      else if (!detailHead.ok) detailError = detailHead.error;
      else if (dh) detailError = testError('head', scenario, dh);
      const db = usable(baseDetail.get(t.id));
      if (db) bSites = db;
      else {
        // No usable report of this test in base's detail run: sites from two different passes would show the
        // difference of the passes, not of the code, so both sides keep their cheap sites.
        hSites = hr;
        if (detailBase && !detailBase.ok) baseDetailError = detailBase.error;
      }
    }
    if (detailError) {
      const result = headErrorResult(
        s,
        { ...detailError, message: `detail pass: ${detailError.message}` },
        {},
      );
      return { result, position };
    }
    const reused = b.ok && b.reused && (bSites === br || (detailBase?.ok === true && detailBase.reused));
    const result = judge(
      s,
      br && bSites ? { totals: br, sites: bSites, reused } : null,
      { totals: hr, sites: hSites, reused: false },
      {
        ...(baseError
          ? { baseError }
          : baseDetailError
            ? { baseError: { ...baseDetailError, message: `detail pass: ${baseDetailError.message}` } }
            : {}),
      },
    );
    return { result, position };
  });
}
