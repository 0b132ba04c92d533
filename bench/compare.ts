/**
 * Benchmarks of the compare engine on a real repository with real python: parallel vs sequential sides, and an
 * unchanged pull request vs the bare cost of tracing the benchmark twice.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { resolvePlan } from '../src/plan/config.js';
import type { Plan } from '../src/plan/types.js';
import type { CompareReport } from '../src/report/types.js';
import { compare, type Progress } from '../src/run/compare.js';
import { makeGit } from '../src/run/git.js';
import { defaultProbeDir } from '../src/run/probe.js';
import { VERSION } from '../src/version.js';
import { makeBenchProject, type BenchProject } from './lib/project.js';
import { describe, median, ms, timeAlternating, verdict } from './lib/timing.js';

const run = promisify(execFile);

/** CPU seconds used by this process's finished children and their descendants (Linux; 0 elsewhere). */
function childCpuSeconds(): number {
  try {
    // Fields after the command name; cutime and cstime are fields 16 and 17 of /proc/self/stat, in clock ticks.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return 0;
  }
}

/** What one compare did, beside its report: when each pass started and ended, relative to the call. */
interface Traced {
  report: CompareReport;
  total: number;
  /** CPU seconds of the child processes. */
  cpu: number;
  events: { at: number; p: Progress }[];
}

function planFor(p: BenchProject): Plan {
  return resolvePlan({ flags: { run: p.script } });
}

async function tracedCompare(p: BenchProject, head: string, sequential: boolean): Promise<Traced> {
  const events: Traced['events'] = [];
  const c0 = childCpuSeconds();
  const t0 = performance.now();
  const report = await compare({
    git: makeGit(p.dir),
    baseRef: p.base,
    headRef: head,
    plan: planFor(p),
    probeDir: defaultProbeDir(import.meta.url),
    sequential,
    memdeltaVersion: VERSION,
    onProgress: (e) => events.push({ at: performance.now() - t0, p: e }),
  });
  return { report, total: performance.now() - t0, cpu: childCpuSeconds() - c0, events };
}

/** The report without what legitimately differs between two runs of the same compare (wall times). */
function numbersOf(r: CompareReport): string {
  return JSON.stringify(r, (k, v: unknown) => (k === 'wallTime' ? undefined : v));
}

/** A report's numbers by a stable key (sites by file, function and code, not by their sorted position). */
function flatten(r: CompareReport): Map<string, number> {
  const out = new Map<string, number>();
  const sc = r.scenarios[0];
  if (!sc) return out;
  for (const side of ['base', 'head', 'delta'] as const) {
    for (const [k, v] of Object.entries(sc[side])) out.set(`${side}.${k}`, v as number);
  }
  for (const x of sc.sites) {
    const id = `site ${x.file}:${x.function}:${x.code}`;
    for (const m of ['peak', 'retained'] as const) {
      out.set(`${id} ${m}.base`, x[m].base);
      out.set(`${id} ${m}.head`, x[m].head);
    }
  }
  for (const g of sc.gc?.growth ?? []) out.set(`gc growth ${g.type}.delta`, g.delta);
  return out;
}

/** The largest difference between runs of any one number, and where. */
function spread(reports: readonly CompareReport[]): { bytes: number; at: string; keysDiffer: boolean } {
  const maps = reports.map(flatten);
  const keys = new Set(maps.flatMap((m) => [...m.keys()]));
  let worst = { bytes: 0, at: '-', keysDiffer: false };
  for (const k of keys) {
    const vs = maps.map((m) => m.get(k));
    if (vs.some((v) => v === undefined)) {
      worst.keysDiffer = true;
      continue;
    }
    const d = Math.max(...(vs as number[])) - Math.min(...(vs as number[]));
    if (d > worst.bytes) worst = { ...worst, bytes: d, at: k };
  }
  return worst;
}

function statuses(r: CompareReport): string {
  return JSON.stringify(
    (r.scenarios[0]?.sites ?? []).map((x) => `${x.file}:${x.function}:${x.code}:${x.status}`).sort(),
  );
}

function spreadLine(label: string, reports: readonly CompareReport[]): string {
  const s = spread(reports);
  return `  ${label.padEnd(26)} largest difference ${s.bytes} B (${s.at})${s.keysDiffer ? ', sites differ' : ''}`;
}

/**
 * The best a parallel compare could do given a sequential one: each pass takes as long as its slower side, the
 * rest (worktrees, diff) stays. Returned as a fraction of the sequential wall time.
 */
function idealRatio(t: Traced): number {
  const spans = new Map<string, number>();
  const open = new Map<string, number>();
  for (const e of t.events) {
    const k = `${e.p.phase} ${e.p.side}`;
    if (e.p.state === 'start') open.set(k, e.at);
    else spans.set(k, e.at - (open.get(k) ?? e.at));
  }
  let saved = 0;
  for (const phase of ['setup', 'cheap', 'detail', 'rss']) {
    const b = spans.get(`${phase} base`) ?? 0;
    const h = spans.get(`${phase} head`) ?? 0;
    saved += Math.min(b, h);
  }
  return (t.total - saved) / t.total;
}

function passes(t: Traced, phase: Progress['phase']): number {
  return t.events.filter((e) => e.p.phase === phase && e.p.state === 'start').length;
}

function scenarioLine(r: CompareReport): string {
  const s = r.scenarios[0];
  if (!s) return 'no scenario';
  const changed = s.sites.filter((x) => x.status !== 'same').length;
  return (
    `verdict ${r.verdict}, status ${s.status}${s.error ? ` (${s.error.message})` : ''}, ` +
    `peak ${s.base.peak} → ${s.head.peak} B (Δ ${s.delta.peak}), retained Δ ${s.delta.retained} B, ` +
    `${changed} changed/new/removed sites of ${s.sites.length}`
  );
}

/** Section 2: a two-side compare with sides in parallel vs one after the other. */
export async function benchParallel(reps: number): Promise<void> {
  const p = makeBenchProject();
  try {
    console.log('\n## Compare: parallel vs sequential sides (base ≠ head)\n');
    const runs: Record<string, Traced[]> = { parallel: [], sequential: [] };
    const timings = await timeAlternating(
      [
        {
          name: 'compare, sides in parallel',
          run: async () => runs.parallel?.push(await tracedCompare(p, p.head, false)),
        },
        {
          name: 'compare, sequential: true',
          run: async () => runs.sequential?.push(await tracedCompare(p, p.head, true)),
        },
      ],
      reps,
    );
    for (const t of timings) console.log(describe(t));
    const [tPar, tSeq] = timings as [(typeof timings)[0], (typeof timings)[0]];
    const all = [...(runs.parallel ?? []), ...(runs.sequential ?? [])];
    const first = all[0] as Traced;
    console.log(`report: ${scenarioLine(first.report)}`);
    console.log(
      `passes per compare: cheap ${passes(first, 'cheap')}, detail ${passes(first, 'detail')} (the peak moved, so the breakdown ran)`,
    );
    const par = (runs.parallel ?? []).map((t) => t.report);
    const seq = (runs.sequential ?? []).map((t) => t.report);
    const identical = new Set(all.map((t) => numbersOf(t.report))).size === 1;
    const sameStatuses = new Set(all.map((t) => statuses(t.report))).size === 1;
    console.log(
      `identical numbers across all ${all.length} compares: ${identical ? 'yes' : 'no'}; ` +
        `same sites with the same statuses: ${sameStatuses ? 'yes' : 'NO'}`,
    );
    console.log(spreadLine('parallel runs among them', par));
    console.log(spreadLine('sequential runs among them', seq));
    console.log(spreadLine('all runs', [...par, ...seq]));
    for (const [mode, ts] of Object.entries(runs)) {
      const cpu = median(ts.map((t) => t.cpu));
      const cores = median(ts.map((t) => (t.cpu * 1000) / t.total));
      console.log(
        `  ${mode}: probes used ${cpu.toFixed(2)} CPU s per compare, ${cores.toFixed(2)} cores on average`,
      );
    }
    const ideal = median((runs.sequential ?? []).map(idealRatio));
    console.log(
      `  best possible with both sides fully parallel (each pass as long as its slower side): ${ideal.toFixed(2)}`,
    );
    console.log(`ratio parallel / sequential: ${verdict(tPar.median / tSeq.median, 0.6)}`);
  } finally {
    p.remove();
  }
}

/** Section 3: an unchanged PR (head adds a comment) vs tracing the benchmark twice with plain tracemalloc. */
export async function benchUnchanged(reps: number): Promise<void> {
  const p = makeBenchProject();
  try {
    const plan = planFor(p);
    console.log('\n## Unchanged pull request vs two plain tracemalloc runs\n');
    const code =
      'import runpy, tracemalloc\n' +
      `tracemalloc.start(${plan.frames})\n` +
      `runpy.run_path(${JSON.stringify(p.script)}, run_name="__main__")\n`;
    // The same interpreter, hash seed and a minimal environment, like the probe's children.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONHASHSEED: '0', LANG: 'C.UTF-8' };
    const plain = async () => {
      await run(plan.python, ['-c', code], { cwd: p.dir, env });
      await run(plan.python, ['-c', code], { cwd: p.dir, env });
    };
    const runs: Traced[] = [];
    const seqRuns: Traced[] = [];
    const timings = await timeAlternating(
      [
        { name: `2 × python -c tracemalloc.start(${plan.frames}), sequential`, run: plain },
        {
          name: 'compare base vs comment-only head',
          run: async () => runs.push(await tracedCompare(p, p.comment, false)),
        },
        {
          name: 'the same with sequential: true',
          run: async () => seqRuns.push(await tracedCompare(p, p.comment, true)),
        },
      ],
      reps,
    );
    for (const t of timings) console.log(describe(t));
    const [pl, cmp, cmpSeq] = timings as [(typeof timings)[0], (typeof timings)[0], (typeof timings)[0]];
    const first = runs[0] as Traced;
    console.log(`report: ${scenarioLine(first.report)}`);
    console.log(`passes per compare: cheap ${passes(first, 'cheap')}, detail ${passes(first, 'detail')}`);
    const cheapOnly = [...runs, ...seqRuns].map((t) => numbersOf(t.report));
    console.log(
      `identical numbers across all ${cheapOnly.length} compares, parallel and sequential (cheap pass only): ` +
        `${new Set(cheapOnly).size === 1 ? 'yes' : 'NO'}`,
    );
    // Where a parallel compare's time goes: before the first probe starts (resolve refs, sweep, two worktrees),
    // the probes, and after the last one ends (read, validate, diff, remove the worktrees).
    const before = median(runs.map((t) => t.events.find((e) => e.p.state === 'start')?.at ?? 0));
    const probes = median(
      runs.map((t) => {
        const s = t.events.filter((e) => e.p.state === 'start').map((e) => e.at);
        const d = t.events.filter((e) => e.p.state !== 'start').map((e) => e.at);
        return Math.max(...d) - Math.min(...s);
      }),
    );
    const after = median(runs.map((t) => t.total - Math.max(...t.events.map((e) => e.at))));
    const windows = median(runs.map((t) => (t.report.scenarios[0]?.detail?.head?.wallTime ?? 0) * 1000));
    console.log(
      `parallel compare breakdown (medians): worktrees and refs ${ms(before)}, probes ${ms(probes)} ` +
        `(of which the head's measured window ${ms(windows)}), diff + worktree removal ${ms(after)}`,
    );
    console.log(`ratio compare / plain: ${verdict(cmp.median / pl.median, 1.2)}`);
    console.log(`ratio sequential compare / plain: ${(cmpSeq.median / pl.median).toFixed(2)}`);
  } finally {
    p.remove();
  }
}
