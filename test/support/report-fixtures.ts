/**
 * Builders of compare reports for tests: small factories with sensible defaults plus the named cases the
 * rendered examples in docs/examples are made from. Numbers are chosen to look like real tracemalloc output.
 */
import type {
  BudgetResult,
  CompareReport,
  ScenarioError,
  ScenarioResult,
  SiteDiff,
  SiteStatus,
  Triple,
} from '../../src/report/types.js';

export const BASE_SHA = '3f9c2a1b7d4e5f60718293a4b5c6d7e8f9012345';
export const HEAD_SHA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
export const REPO_URL = 'https://github.com/acme/widgets';

const KiB = 1024;
const MiB = 1024 * 1024;

/** A base/head/delta triple. */
export function triple(base: number, head: number): Triple {
  return { base, head, delta: head - base };
}

/** A site diff; status follows from the numbers unless given. */
export function site(
  file: string,
  line: number,
  fn: string,
  code: string,
  peak: [number, number],
  retained: [number, number] = [0, 0],
  extra: Partial<SiteDiff> = {},
): SiteDiff {
  let status: SiteStatus = 'changed';
  if (peak[0] === 0 && retained[0] === 0) status = 'new';
  else if (peak[1] === 0 && retained[1] === 0) status = 'removed';
  else if (peak[0] === peak[1] && retained[0] === retained[1]) status = 'same';
  return {
    file,
    function: fn,
    line,
    code,
    status,
    peak: triple(peak[0], peak[1]),
    retained: triple(retained[0], retained[1]),
    ...extra,
  };
}

/** A budget result. */
export function budget(
  rule: string,
  limit: number,
  actual: number,
  level: 'warn' | 'fail' = 'fail',
): BudgetResult {
  return { rule, limit, actual, level, ok: actual <= limit };
}

/** A scenario compared on both sides, with default relative peak and retained budgets evaluated on its numbers. */
export function scenario(
  name: string,
  peak: [number, number],
  retained: [number, number],
  extra: Partial<ScenarioResult> = {},
): ScenarioResult {
  const budgets = extra.budget ?? [
    budget('peak: +5%', Math.round(peak[0] * 0.05), peak[1] - peak[0], 'fail'),
    budget('retained: +1MiB', MiB, retained[1] - retained[0], 'warn'),
  ];
  return {
    name,
    status: 'ok',
    base: { peak: peak[0], retained: retained[0] },
    head: { peak: peak[1], retained: retained[1] },
    delta: { peak: peak[1] - peak[0], retained: retained[1] - retained[0] },
    sites: [],
    sameSites: 0,
    detail: {
      base: { source: 'measured', frames: 1, peakSites: true },
      head: { source: 'measured', frames: 1, peakSites: true },
    },
    ...extra,
    budget: budgets,
  };
}

/** A report around the given scenarios; the verdict is derived like the verdict module does. */
export function report(scenarios: ScenarioResult[], extra: Partial<CompareReport> = {}): CompareReport {
  const broken = scenarios.flatMap((s) => s.budget.filter((b) => !b.ok));
  const verdict = scenarios.some((s) => s.status === 'error')
    ? 'error'
    : broken.some((b) => b.level === 'fail')
      ? 'fail'
      : broken.length > 0
        ? 'warn'
        : 'pass';
  return {
    schema: 'memdelta/compare@1',
    verdict,
    base: { ref: 'main', sha: BASE_SHA },
    head: { ref: 'feature/faster-parse', sha: HEAD_SHA },
    scenarios,
    settings: {
      python: '3.11.9',
      frames: 1,
      minDelta: { bytes: 4 * KiB, percent: 1 },
      memdeltaVersion: '0.1.0',
      repositoryUrl: REPO_URL,
    },
    ...extra,
  };
}

/** Realistic changed sites of a parser. */
function parserSites(): SiteDiff[] {
  return [
    site('src/widgets/parse.py', 88, 'Parser.tokens', 'self._buf = bytearray(size * 4)', [
      8 * MiB,
      20.4 * MiB,
    ]),
    site(
      'src/widgets/parse.py',
      131,
      'Parser.node',
      'node = Node(kind, children=list(items))',
      [3 * MiB, 3.2 * MiB],
      [0, 0],
    ),
    site('src/widgets/cache.py', 17, 'memo', '_cache[key] = value', [0, 512 * KiB], [0, 512 * KiB]),
    site('src/widgets/old.py', 40, 'legacy_copy', 'data = list(source)', [600 * KiB, 0]),
    site(
      'site-packages/yaml/reader.py',
      187,
      'Reader.update',
      'self.buffer += data',
      [1 * MiB, 1.1 * MiB],
      [0, 0],
      {
        via: '<stdlib>/codecs.py:322',
      },
    ),
  ].map((x) => ({ ...x, peak: triple(Math.round(x.peak.base), Math.round(x.peak.head)) }));
}

/** Every scenario within budget, small changes. */
export function allPassReport(): CompareReport {
  return report([
    scenario('parse-small', [2 * MiB, 2 * MiB + 40 * KiB], [120 * KiB, 120 * KiB], {
      sites: [
        site('src/widgets/parse.py', 88, 'Parser.tokens', 'self._buf = bytearray(size * 4)', [
          256 * KiB,
          296 * KiB,
        ]),
      ],
      sameSites: 41,
    }),
    scenario('render-page', [5 * MiB, 5 * MiB - 512], [300 * KiB, 299 * KiB], {
      sites: [
        site(
          'src/widgets/render.py',
          12,
          'render',
          "out.append(f'<li>{item}</li>')",
          [64 * KiB, 64 * KiB - 512],
          [4 * KiB, 3 * KiB],
        ),
      ],
      sameSites: 17,
    }),
    scenario('import-time', [9 * MiB, 9 * MiB], [7 * MiB, 7 * MiB], { sameSites: 233 }),
  ]);
}

/** One scenario over a warn-level budget. */
export function oneWarnReport(): CompareReport {
  return report([
    scenario('parse-small', [2 * MiB, 2 * MiB], [120 * KiB, 120 * KiB], { sameSites: 41 }),
    scenario('build-index', [10 * MiB, 10.2 * MiB], [1 * MiB, 2.5 * MiB], {
      sites: [
        site(
          'src/widgets/index.py',
          55,
          'Index.add',
          'self._postings[term].append(doc_id)',
          [2 * MiB, 2.2 * MiB],
          [1 * MiB, 2.5 * MiB],
        ),
        site('src/widgets/index.py', 71, 'Index._norm', 'return term.casefold()', [100 * KiB, 90 * KiB]),
      ].map((x) => ({ ...x, peak: triple(Math.round(x.peak.base), Math.round(x.peak.head)) })),
      sameSites: 12,
    }),
  ]);
}

/** A callable scenario that leaks per iteration and fails its peak and leak budgets. */
export function failWithLeakReport(): CompareReport {
  const sites = parserSites();
  const leaky = site(
    'src/widgets/signals.py',
    23,
    'Emitter.connect',
    'self._handlers.append(Signal(fn))',
    [0, 2 * MiB],
    [0, 1.5 * MiB],
    { leak: triple(0, 1600) },
  );
  const leakScenario = scenario('emit-signals', [40 * MiB, 52.4 * MiB], [1 * MiB, 2.5 * MiB], {
    iterations: 1000,
    base: { peak: 40 * MiB, retained: 1 * MiB, leak: 0, rss: 71 * MiB },
    head: { peak: Math.round(52.4 * MiB), retained: 2.5 * MiB, leak: 1600, rss: 84 * MiB },
    delta: { peak: Math.round(12.4 * MiB), retained: 1.5 * MiB, leak: 1600, rss: 13 * MiB },
    budget: [
      budget('peak: +5%', 2 * MiB, Math.round(12.4 * MiB), 'fail'),
      budget('leak: 1KiB/iter', KiB, 1600, 'fail'),
      budget('retained: +1MiB', MiB, 1.5 * MiB, 'warn'),
    ],
    sites: [leaky, ...sites],
    sameSites: 310,
    gc: {
      uncollectable: { base: 0, head: 0 },
      cyclic: { base: 12, head: 2012, bytes: { base: 2 * KiB, head: 250 * KiB } },
      growth: [
        { type: 'Signal', base: 0, head: 2000, delta: 2000 },
        { type: 'function', base: 3, head: 1003, delta: 1000 },
        { type: 'dict', base: 10, head: 12, delta: 2 },
      ],
    },
  });
  return report([
    leakScenario,
    scenario('parse-small', [2 * MiB, 2 * MiB + 4 * KiB], [120 * KiB, 120 * KiB], {
      base: { peak: 2 * MiB, retained: 120 * KiB, rss: 30 * MiB },
      head: { peak: 2 * MiB + 4 * KiB, retained: 120 * KiB, rss: 30 * MiB },
      sameSites: 41,
    }),
  ]);
}

/** The head side of one scenario crashed. */
export function headErrorReport(): CompareReport {
  const error: ScenarioError = {
    side: 'head',
    reason: 'exit',
    message: 'ValueError: unsupported widget kind',
    tail: [
      'Traceback (most recent call last):',
      '  File "src/widgets/parse.py", line 140, in node',
      '    raise ValueError(f"unsupported widget kind: {kind!r}")',
      "ValueError: unsupported widget kind: 'gizmo'",
    ],
  };
  return report([
    scenario('parse-small', [2 * MiB, 2 * MiB], [120 * KiB, 120 * KiB], { sameSites: 41 }),
    {
      ...scenario('parse-large', [40 * MiB, 0], [1 * MiB, 0], { budget: [], sites: [], sameSites: 0 }),
      status: 'error',
      error,
    },
  ]);
}

/** A scenario new in this pull request (nothing to compare with), plus one whose base failed. */
export function noBaselineReport(): CompareReport {
  const fresh: ScenarioResult = {
    ...scenario('export-csv', [0, 6 * MiB], [0, 200 * KiB], {
      budget: [budget('peak-max: 512MiB', 512 * MiB, 6 * MiB, 'fail')],
      sites: [
        site('src/widgets/export.py', 30, 'export_csv', 'rows = [row_to_text(r) for r in table]', [
          0,
          4 * MiB,
        ]),
        site('src/widgets/export.py', 34, 'export_csv', "buf.write('\\n'.join(rows))", [0, 2 * MiB]),
      ],
      sameSites: 0,
    }),
    status: 'no-baseline',
    base: { peak: 0, retained: 0 },
  };
  const baseFailed: ScenarioResult = {
    ...fresh,
    name: 'import-time',
    sites: [],
    baseError: {
      side: 'base',
      reason: 'timeout',
      message: 'the probe did not finish within 120 s',
      tail: ['loading plugins…', 'still loading plugins…'],
    },
  };
  return report([fresh, baseFailed]);
}

/** Thirty scenarios: one fails, two warn, the rest pass with small changes. */
export function thirtyScenariosReport(sitesPerScenario = 4): CompareReport {
  const scenarios: ScenarioResult[] = [];
  for (let i = 0; i < 30; i++) {
    const base = (4 + i) * MiB;
    const grow = i === 7 ? 0.3 : i === 12 || i === 21 ? 0.02 : 0.001 * (i % 3);
    const head = Math.round(base * (1 + grow));
    const retainedHead = i === 12 || i === 21 ? 1.5 * MiB + 200 * KiB : 200 * KiB;
    const sites: SiteDiff[] = [];
    for (let j = 0; j < sitesPerScenario; j++) {
      const b = (j + 1) * 37 * KiB;
      const h = b + Math.round((head - base) / (j + 2));
      sites.push(
        site(
          `src/widgets/module_${i}/part_${j}.py`,
          10 + j * 7,
          `Worker${i}.step_${j}`,
          `items_${j}.extend(batch)`,
          [b, h],
        ),
      );
    }
    scenarios.push(
      scenario(`scenario-${String(i + 1).padStart(2, '0')}`, [base, head], [200 * KiB, retainedHead], {
        sites,
        sameSites: 20 + i,
      }),
    );
  }
  return report(scenarios);
}
