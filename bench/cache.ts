/**
 * The base-report cache: a compare whose base passes come from the cache vs one that measures both sides, on a
 * two-scenario project whose head regressed (cheap and detail passes on both sides).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePlan } from '../src/plan/config.js';
import type { CompareReport } from '../src/report/types.js';
import { compare, type Progress } from '../src/run/compare.js';
import { makeGit } from '../src/run/git.js';
import { defaultProbeDir } from '../src/run/probe.js';
import { VERSION } from '../src/version.js';
import { makeBenchProject, type BenchProject } from './lib/project.js';
import { describe, timeAlternating, verdict } from './lib/timing.js';

function twoScenarios(p: BenchProject) {
  const text = [
    'scenarios:',
    `  - { name: ingest, run: ${p.script} }`,
    `  - { name: ingest-again, run: "${p.script} again" }`,
  ].join('\n');
  return resolvePlan({ config: { text, file: '.memdelta.yml' } });
}

async function run(
  p: BenchProject,
  cacheDir: string | undefined,
  events: Progress[],
): Promise<CompareReport> {
  return compare({
    git: makeGit(p.dir),
    baseRef: p.base,
    headRef: p.head,
    plan: twoScenarios(p),
    probeDir: defaultProbeDir(import.meta.url),
    memdeltaVersion: VERSION,
    ...(cacheDir ? { cacheDir } : {}),
    onProgress: (e) => events.push(e),
  });
}

/** Totals, deltas, budgets and site statuses: what the verdict rests on. */
function verdictNumbers(r: CompareReport): string {
  return JSON.stringify([
    r.verdict,
    r.scenarios.map((s) => [
      s.base,
      s.head,
      s.delta,
      s.budget,
      s.sites.map((x) => `${x.file}:${x.code}:${x.status}`),
    ]),
  ]);
}

/** The largest difference of any per-site number between two reports of the same compare. */
function siteSpread(a: CompareReport, b: CompareReport): number {
  let worst = 0;
  a.scenarios.forEach((s, i) =>
    s.sites.forEach((x, j) => {
      const y = b.scenarios[i]?.sites[j];
      if (!y) return;
      for (const m of ['peak', 'retained'] as const)
        for (const k of ['base', 'head'] as const) worst = Math.max(worst, Math.abs(x[m][k] - y[m][k]));
    }),
  );
  return worst;
}

/** Section: cached vs uncached compare. */
export async function benchCache(reps: number): Promise<void> {
  const p = makeBenchProject();
  const dir = mkdtempSync(join(tmpdir(), 'memdelta-bench-cache-'));
  try {
    console.log('\n## Base-report cache: cached vs uncached compare (two scenarios, head regressed)\n');
    const reports: { cached: CompareReport[]; uncached: CompareReport[] } = { cached: [], uncached: [] };
    const runs: { cached: Progress[][]; uncached: Progress[][] } = { cached: [], uncached: [] };
    await run(p, dir, []); // fills the cache
    const timings = await timeAlternating(
      [
        {
          name: 'compare, base measured (no cache)',
          run: async () => {
            const ev: Progress[] = [];
            reports.uncached.push(await run(p, undefined, ev));
            runs.uncached.push(ev);
          },
        },
        {
          name: 'compare, base reused from the cache',
          run: async () => {
            const ev: Progress[] = [];
            reports.cached.push(await run(p, dir, ev));
            runs.cached.push(ev);
          },
        },
      ],
      reps,
    );
    for (const t of timings) console.log(describe(t));
    const probes = (evs: Progress[][]) =>
      evs[0]?.filter((e) => e.state === 'start' && e.phase !== 'setup').length;
    const reused = (evs: Progress[][]) => evs[0]?.filter((e) => e.state === 'reused').length;
    console.log(
      `probe runs per compare: uncached ${probes(runs.uncached)}, cached ${probes(runs.cached)} ` +
        `(${reused(runs.cached)} base passes reused)`,
    );
    const sources = reports.cached.flatMap((r) => r.scenarios.map((s) => s.detail?.base?.source));
    console.log(`base source in cached compares: ${[...new Set(sources)].join(', ')}`);
    const all = [...reports.uncached, ...reports.cached].map(verdictNumbers);
    console.log(
      `identical totals, deltas, budgets and site statuses, cached and uncached: ${new Set(all).size === 1 ? 'yes' : 'NO'}`,
    );
    const [u0, u1] = reports.uncached as [CompareReport, CompareReport];
    console.log(
      `largest per-site difference: uncached vs uncached ${siteSpread(u0, u1)} B, ` +
        `uncached vs cached ${siteSpread(u0, reports.cached[0] as CompareReport)} B`,
    );
    const [unc, cac] = timings as [(typeof timings)[0], (typeof timings)[0]];
    console.log(`ratio cached / uncached: ${verdict(cac.median / unc.median, 0.6)}`);
  } finally {
    p.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}
