/**
 * The diff engine at scale: what memdelta adds after reading two probe reports (validation, matching, diffing,
 * budgets, markdown) compared with the unavoidable JSON.parse of the same text.
 */
import { defaultRules } from '../src/plan/budget.js';
import { DEFAULT_NOISE_FLOOR } from '../src/plan/budget.js';
import { renderMarkdown } from '../src/render/markdown.js';
import { diffSites } from '../src/report/diff.js';
import { matchSites } from '../src/report/match.js';
import { MAX_SITES, parseProbeReport } from '../src/report/schema.js';
import type { CompareReport, ProbeReport, ScenarioResult } from '../src/report/types.js';
import { checkBudgets, overallVerdict } from '../src/report/verdict.js';
import { synthReports } from './lib/synth.js';
import { describe, timeAlternating, verdict } from './lib/timing.js';

const SHA_A = 'a'.repeat(40);
const SHA_B = 'b'.repeat(40);

/** The steps of compare.ts after both reports are parsed: diff, budgets, report, markdown. */
function judgeAndRender(base: ProbeReport, head: ProbeReport): string {
  const floor = DEFAULT_NOISE_FLOOR;
  const diff = diffSites(base, head, floor);
  const totals = (r: ProbeReport) => ({ peak: r.peak, retained: r.retained });
  const scenario: ScenarioResult = {
    name: 'ingest',
    status: 'ok',
    base: totals(base),
    head: totals(head),
    delta: { peak: head.peak - base.peak, retained: head.retained - base.retained },
    budget: checkBudgets(defaultRules(), totals(base), totals(head), floor),
    sites: diff.sites,
    sameSites: diff.sameSites,
  };
  const report: CompareReport = {
    schema: 'memdelta/compare@1',
    verdict: overallVerdict([scenario]),
    base: { ref: 'main', sha: SHA_A },
    head: { ref: 'feature', sha: SHA_B },
    scenarios: [scenario],
    settings: { frames: 4, minDelta: floor, memdeltaVersion: '0.1.0' },
  };
  return renderMarkdown(report);
}

async function one(n: number, reps: number, warmup = 1): Promise<void> {
  const { base, head } = synthReports(n);
  const baseText = JSON.stringify(base);
  const headText = JSON.stringify(head);
  const mb = (baseText.length + headText.length) / 1e6;
  const validated = n <= MAX_SITES;
  console.log(
    `\n### ${n.toLocaleString('en')} sites per report (${mb.toFixed(1)} MB of JSON for both, ` +
      `${head.sites.length} head sites)\n`,
  );
  if (!validated) {
    console.log(
      `Over the schema's cap of ${MAX_SITES} sites per report (and its 16 MB text cap), so parseProbeReport ` +
        'would reject it: validation is left out; the pipeline is JSON.parse + match + diff + budgets + render ' +
        'on the parsed objects.',
    );
  }
  let md = '';
  const timings = await timeAlternating(
    [
      { name: 'JSON.parse × 2', run: () => [JSON.parse(baseText), JSON.parse(headText)] },
      {
        name: validated
          ? 'parseProbeReport × 2 + diff + budgets + render'
          : 'JSON.parse × 2 + diff + budgets + render',
        run: () => {
          const [b, h] = validated
            ? [parseProbeReport(baseText), parseProbeReport(headText)]
            : [JSON.parse(baseText) as ProbeReport, JSON.parse(headText) as ProbeReport];
          md = judgeAndRender(b, h);
        },
      },
    ],
    reps,
    warmup,
  );
  for (const t of timings) console.log(describe(t));
  const [parse, all] = timings as [(typeof timings)[0], (typeof timings)[0]];
  console.log(`markdown: ${md.length} characters`);
  console.log(`ratio pipeline / JSON.parse: ${verdict(all.median / parse.median, 2)}`);

  // Where the time goes, stage by stage, on already-parsed objects.
  const b = JSON.parse(baseText) as ProbeReport;
  const h = JSON.parse(headText) as ProbeReport;
  const diff = diffSites(b, h, DEFAULT_NOISE_FLOOR);
  const stages = await timeAlternating(
    [
      ...(validated
        ? [
            {
              name: 'stage: parseProbeReport × 2 (incl. JSON.parse)',
              run: () => [parseProbeReport(baseText), parseProbeReport(headText)],
            },
          ]
        : []),
      { name: 'stage: matchSites', run: () => matchSites(b.sites, h.sites) },
      { name: 'stage: diffSites (incl. matchSites)', run: () => diffSites(b, h, DEFAULT_NOISE_FLOOR) },
      { name: 'stage: diff + budgets + renderMarkdown', run: () => judgeAndRender(b, h) },
    ],
    reps,
    warmup,
  );
  for (const t of stages) console.log(describe(t));
  console.log(
    `sites: ${diff.sites.length} in the diff, ${diff.sites.length - diff.sameSites} changed/new/removed, ${diff.sameSites} same`,
  );
}

/** Section 4: 300 (the probe's default cap), 10 000 and 100 000 sites per report. */
export async function benchDiff(reps: number): Promise<void> {
  console.log('\n## Diff engine at scale\n');
  // Small inputs run in microseconds: warm the JIT up before timing them.
  await one(300, reps * 3, 20);
  await one(10_000, reps);
  await one(100_000, Math.max(3, Math.ceil(reps / 2)));
}
