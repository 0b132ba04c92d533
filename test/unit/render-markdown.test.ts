import { micromark } from 'micromark';
import { gfm, gfmHtml } from 'micromark-extension-gfm';
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../src/render/markdown.js';
import type { CompareReport, ScenarioResult } from '../../src/report/types.js';
import { FORBIDDEN_CHARS, HOSTILE_NAMES } from '../support/hostile-names.js';
import {
  allPassReport,
  BASE_SHA,
  failWithLeakReport,
  HEAD_SHA,
  headErrorReport,
  noBaselineReport,
  oneWarnReport,
  REPO_URL,
  report,
  scenario,
  site,
  thirtyScenariosReport,
} from '../support/report-fixtures.js';

const MARKER = '<!-- memdelta:default -->';

function html(md: string): string {
  return micromark(md, { extensions: [gfm()], htmlExtensions: [gfmHtml()], allowDangerousHtml: true });
}

describe('rendered examples (docs/examples)', () => {
  const cases: [string, () => CompareReport][] = [
    ['all-pass', allPassReport],
    ['one-warn', oneWarnReport],
    ['fail-with-leak', failWithLeakReport],
    ['error-on-head', headErrorReport],
    ['no-baseline', noBaselineReport],
    ['thirty-scenarios', () => thirtyScenariosReport()],
  ];
  for (const [name, build] of cases) {
    it(`renders ${name}`, async () => {
      const md = renderMarkdown(build(), { marker: MARKER });
      expect(md.startsWith(`${MARKER}\n`)).toBe(true);
      await expect(md).toMatchFileSnapshot(`../../docs/examples/${name}.md`);
    });
  }

  it('states the verdict, the worst change and links both commits in the headline', () => {
    const md = renderMarkdown(failWithLeakReport());
    const headline = md.split('\n')[0] ?? '';
    expect(headline).toContain('❌ memdelta: fail');
    expect(headline).toContain('peak +12.4 MiB (+31 %) in `emit-signals`, over the +5 % budget');
    expect(headline).toContain(`[\`${BASE_SHA.slice(0, 7)}\`](${REPO_URL}/commit/${BASE_SHA})`);
    expect(headline).toContain(`[\`${HEAD_SHA.slice(0, 7)}\`](${REPO_URL}/commit/${HEAD_SHA})`);
  });

  it('lists no unchanged site, counts them, and opens the details of a failing scenario only', () => {
    const r = failWithLeakReport();
    const s = r.scenarios[0] as ScenarioResult;
    s.sites.push(site('src/widgets/same.py', 9, 'untouched', 'x = 1', [4096, 4096]));
    const md = renderMarkdown(r);
    expect(md).not.toContain('src/widgets/same.py');
    expect(md).toContain('6 changed, 311 unchanged');
    expect(md).toContain('<details open><summary>Sites in emit-signals');
    const passing = renderMarkdown(allPassReport());
    expect(passing).not.toContain('<details open');
    expect(passing).toContain('<details><summary>Sites in parse-small');
  });

  it('words gc findings per iteration', () => {
    const md = renderMarkdown(failWithLeakReport());
    expect(md).toContain('+2 000 `Signal` objects retained per 1 000 calls');
    expect(md).toContain('Cyclic garbage grew by 2 000 objects');
  });

  it('shows head-only numbers for no-baseline and the reason for errors', () => {
    const fresh = renderMarkdown(noBaselineReport());
    expect(fresh).toContain('6 MiB (no baseline)');
    expect(fresh).toContain('On base, `import-time` failed');
    const err = renderMarkdown(headErrorReport());
    expect(err).toContain('⛔ error on head: `exit`');
    expect(err).toContain("ValueError: unsupported widget kind: 'gizmo'");
  });

  it('uses the accept label option and the reproducing command', () => {
    const r = failWithLeakReport();
    expect(renderMarkdown(r, { acceptLabel: 'perf: ok' })).toContain('Add the label `perf: ok`');
    expect(renderMarkdown(r)).toContain(`npx memdelta compare --base ${BASE_SHA} --head ${HEAD_SHA}`);
    r.settings = { ...r.settings!, command: 'npx memdelta compare --config .memdelta.yml' };
    expect(renderMarkdown(r)).toContain('npx memdelta compare --config .memdelta.yml');
    expect(renderMarkdown(allPassReport())).not.toContain('Intended increase');
  });

  it('does not link commits or files when the repository address is unknown', () => {
    const r = failWithLeakReport();
    delete r.settings!.repositoryUrl;
    expect(html(renderMarkdown(r))).not.toContain('<a ');
  });
});

/** A report that puts a hostile text everywhere untrusted text goes. */
function hostileReport(text: string): CompareReport {
  const s = scenario(text, [1000, 9000], [0, 4000], {
    iterations: 10,
    sites: [
      site(`src/${text}.py`, 3, text, text, [0, 5000], [0, 4000], { via: `<stdlib>/${text}` }),
      site(text, 4, text, text, [1000, 3000]),
    ],
    sameSites: 2,
    gc: {
      uncollectable: { base: 0, head: 2 },
      growth: [{ type: text, base: 0, head: 20, delta: 20 }],
    },
    baseError: { side: 'base', reason: text, message: text, tail: [text, `${text}\n${text}`] },
  });
  const broken: ScenarioResult = {
    ...scenario(`${text}-2`, [0, 0], [0, 0], { budget: [] }),
    status: 'error',
    error: { side: 'head', reason: text, message: text, tail: ['```', text, '~~~', '</details>', text] },
  };
  return report([s, broken], { head: { ref: text, sha: HEAD_SHA } });
}

function outsideCode(h: string): string {
  // Text outside code; the renderer's own hrefs are attributes, not text, and go with the tags.
  return h
    .replace(/<pre>[\s\S]*?<\/pre>/gu, '')
    .replace(/<code>[\s\S]*?<\/code>/gu, '')
    .replace(/<[^>]*>/gu, '');
}

describe('hostile names', () => {
  for (const { label, text } of HOSTILE_NAMES) {
    it(`keeps ${label} inert`, () => {
      const md = renderMarkdown(hostileReport(text), { marker: MARKER });
      const h = html(md);

      // The marker is first and no other comment can start or end anywhere.
      expect(md.startsWith(`${MARKER}\n`)).toBe(true);
      expect(md.indexOf('<!--', 1)).toBe(-1);
      expect(md.split('-->')).toHaveLength(2);
      expect(md).not.toMatch(FORBIDDEN_CHARS);
      expect(md.isWellFormed()).toBe(true);
      expect(md).not.toContain('n'.repeat(200));

      // Only the renderer's own elements.
      const tags = new Set(Array.from(h.matchAll(/<([a-zA-Z][\w-]*)/gu), (m) => (m[1] ?? '').toLowerCase()));
      const allowed = [
        'h3',
        'h4',
        'p',
        'a',
        'code',
        'pre',
        'strong',
        'em',
        'ul',
        'li',
        'hr',
        'blockquote',
        'table',
        'thead',
        'tbody',
        'tr',
        'th',
        'td',
        'details',
        'summary',
      ];
      for (const tag of tags) expect(allowed, `<${tag}>`).toContain(tag);
      for (const m of h.matchAll(/<details[^>]*>/gu)) expect(m[0]).toMatch(/^<details( open)?>$/u);
      expect(h.match(/<details/gu)?.length ?? 0).toBe(h.match(/<summary>Sites in /gu)?.length ?? 0);
      expect(h.match(/<details/gu)?.length ?? 0).toBe(h.match(/<\/details>/gu)?.length ?? 0);
      for (const m of h.matchAll(/<a\s([^>]*)>/gu)) {
        expect(m[1]).toMatch(new RegExp(`^href="${REPO_URL}/(commit|blob)/[0-9a-f]{40}[^"\\s]*"$`, 'u'));
      }
      expect(h).not.toMatch(/<img|<script|href="javascript:/iu);

      // Tables keep their column count: every row has as many unescaped pipes as its header.
      const lines = md.split('\n');
      let expected = -1;
      for (const line of lines) {
        if (!line.startsWith('|')) {
          expected = -1;
          continue;
        }
        const pipes = (line.match(/(?<!\\)\|/gu) ?? []).length;
        if (expected < 0) expected = pipes;
        expect(pipes, line.slice(0, 200)).toBe(expected);
      }
      for (const table of h.match(/<table>[\s\S]*?<\/table>/gu) ?? []) {
        const heads = (table.match(/<th[\s>]/gu) ?? []).length;
        for (const row of table.match(/<tr>[\s\S]*?<\/tr>/gu)?.slice(1) ?? []) {
          expect((row.match(/<td[\s>]/gu) ?? []).length).toBe(heads);
        }
      }
      expect(h).not.toContain('<td>fake</td>');

      // Mentions, references and URLs only inside code or broken by a word joiner.
      const prose = outsideCode(h);
      for (const live of [
        '@octocat',
        '@org/team',
        '#1',
        'GH-1',
        'o/r#2',
        'https://evil',
        'www.evil',
        'mallory@evil',
      ]) {
        const at = prose.indexOf(live);
        expect(at >= 0 ? prose.slice(at - 200, at + 50) : '').toBe('');
      }
    });
  }
});

describe('size', () => {
  /** Thirty scenarios of 200 changed sites each, with realistic path and code lengths. */
  function bigReport(): CompareReport {
    const r = thirtyScenariosReport(200);
    for (const [i, s] of r.scenarios.entries()) {
      s.sites = s.sites.map((x, j) => ({
        ...x,
        file: `src/widgets/services/module_${i}/handlers/part_${j}.py`,
        code: `result_buffer_${j} = transform(batch, options=self.options).extend(items)`,
      }));
    }
    return r;
  }

  it('fits a 200-site, 30-scenario report in a comment with the marker first and failing top sites intact', () => {
    const r = bigReport();
    const full = renderMarkdown(r, { marker: MARKER, maxChars: 1024 * 1024 });
    expect(full.length).toBeGreaterThan(65_536);
    const md = renderMarkdown(r, { marker: MARKER });
    expect(md.length).toBeLessThan(65_536);
    expect(md.startsWith(`${MARKER}\n`)).toBe(true);
    expect(md).toContain('Left out to fit the comment: site rows of');
    expect(md).toContain('The full report is in the job summary');
    const failing = r.scenarios.find((s) => s.budget.some((b) => !b.ok && b.level === 'fail'))!;
    const top = [...failing.sites]
      .sort((a, b) => Math.abs(b.peak.delta) - Math.abs(a.peak.delta))
      .slice(0, 3);
    for (const s of top) expect(md).toContain(`${s.file}:${s.line}`);
    // Structure intact: every <details> is closed, every code fence paired.
    expect(md.match(/<details/gu)?.length).toBe(md.match(/<\/details>/gu)?.length);
    expect((md.match(/^```/gmu) ?? []).length % 2).toBe(0);
  });

  it('drops passing site rows first, then the chart, then failing rows beyond the top 3', () => {
    const r = bigReport();
    const failing = 7;
    const passing = r.scenarios.flatMap((x, i) => (x.budget.every((b) => b.ok) ? [i] : []));
    const states = new Set<string>();
    for (const max of [65_536, 40_000, 20_000, 15_000, 12_000, 10_000]) {
      const md = renderMarkdown(r, { maxChars: max });
      expect(md.length).toBeLessThanOrEqual(max);
      const chart = md.includes('```mermaid');
      const passingRows = passing.filter((i) => md.includes(`module_${i}/handlers/`)).length;
      const failingRows =
        md.match(new RegExp(`module_${failing}/handlers/part_\\d+\\.py:`, 'gu'))?.length ?? 0;
      if (!chart) expect(passingRows).toBe(0);
      if (failingRows < 10) expect(chart).toBe(false);
      expect(failingRows).toBeGreaterThanOrEqual(3);
      if (chart && passingRows < passing.length && passingRows > 0) states.add('some passing rows dropped');
      if (!chart && failingRows === 10) states.add('chart dropped');
      if (failingRows === 3) states.add('failing rows trimmed to 3');
    }
    expect([...states].sort()).toEqual([
      'chart dropped',
      'failing rows trimmed to 3',
      'some passing rows dropped',
    ]);
  });

  it('falls back to the headline and a pointer when nothing else fits', () => {
    const md = renderMarkdown(bigReport(), { marker: MARKER, maxChars: 1500 });
    expect(md.startsWith(`${MARKER}\n\n### ❌ memdelta: fail`)).toBe(true);
    expect(md.length).toBeLessThanOrEqual(1500);
    expect(md).toContain('too large for a comment');
  });
});
