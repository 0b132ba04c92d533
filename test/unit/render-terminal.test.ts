import { describe, expect, it } from 'vitest';
import { displayWidth, renderTerminal } from '../../src/render/terminal.js';
import type { CompareReport, ScenarioResult } from '../../src/report/types.js';
import { FORBIDDEN_CHARS, HOSTILE_NAMES } from '../support/hostile-names.js';
import {
  allPassReport,
  failWithLeakReport,
  HEAD_SHA,
  headErrorReport,
  report,
  scenario,
  site,
} from '../support/report-fixtures.js';

/** The display column at which `needle` starts in `line`. */
function column(line: string, needle: string): number {
  const at = line.indexOf(needle);
  expect(at, `${needle} in ${line}`).toBeGreaterThanOrEqual(0);
  return displayWidth(line.slice(0, at));
}

describe('renderTerminal', () => {
  it('aligns the scenario table columns', () => {
    const out = renderTerminal(failWithLeakReport());
    const lines = out.split('\n');
    const header = lines.find((l) => l.startsWith('Scenario'))!;
    const rows = lines.filter((l) => l.startsWith('emit-signals ') || l.startsWith('parse-small '));
    expect(rows).toHaveLength(2);
    const budgetAt = column(header, 'Budget');
    expect(column(rows[0]!, 'peak +12.4 MiB')).toBe(budgetAt);
    expect(column(rows[1]!, 'within budget')).toBe(budgetAt);
    // Right-aligned numbers end in the same column as their header.
    const peakEnd = column(header, 'Peak (base → head)') + displayWidth('Peak (base → head)');
    expect(column(rows[0]!, '(+12.4 MiB, +31 %)') + displayWidth('(+12.4 MiB, +31 %)')).toBe(peakEnd);
    expect(column(rows[1]!, '(+4 KiB, +0.2 %)') + displayWidth('(+4 KiB, +0.2 %)')).toBe(peakEnd);
  });

  it('has no ANSI codes unless colour is asked for', () => {
    const r = failWithLeakReport();
    expect(renderTerminal(r)).not.toContain('\u001B');
    expect(renderTerminal(r, { color: false })).not.toContain('\u001B');
    const coloured = renderTerminal(r, { color: true });
    expect(coloured).toContain('\u001B[31m✖ FAIL\u001B[39m');
    // Colour never changes the text itself.
    expect(coloured.replace(/\u001B\[[0-9;]*m/gu, '')).toBe(renderTerminal(r));
  });

  it('tells the same story as the markdown', () => {
    const out = renderTerminal(failWithLeakReport(), { acceptLabel: 'perf: ok' });
    expect(out.split('\n')[0]).toBe(
      '✖ FAIL  memdelta: peak +12.4 MiB (+31 %) in emit-signals, over the +5 % budget',
    );
    expect(out).toContain('+2 000 Signal objects retained per 1 000 calls');
    expect(out).toContain('src/widgets/signals.py:23');
    expect(out).toContain('310 unchanged sites');
    expect(out).toContain('Add the label "perf: ok"');
    expect(renderTerminal(allPassReport()).split('\n')[0]).toMatch(/^✔ PASS {2}memdelta: largest change/u);
    const err = renderTerminal(headErrorReport());
    expect(err).toContain("│ ValueError: unsupported widget kind: 'gizmo'");
    expect(err).toContain('error on head: exit');
  });

  it('never lets control or bidi characters through from untrusted text', () => {
    for (const { label, text } of HOSTILE_NAMES) {
      const s: ScenarioResult = scenario(text, [1000, 9000], [0, 4000], {
        sites: [site(text, 3, text, text, [0, 5000], [0, 4000], { via: text })],
        gc: { uncollectable: { base: 0, head: 1 }, growth: [{ type: text, base: 0, head: 5, delta: 5 }] },
        baseError: { side: 'base', reason: text, message: text, tail: [text] },
      });
      const broken: ScenarioResult = {
        ...scenario(`${text}2`, [0, 0], [0, 0], { budget: [] }),
        status: 'error',
        error: { side: 'head', reason: text, message: text, tail: [text, `${text}\r\n${text}`] },
      };
      const r: CompareReport = report([s, broken], { head: { ref: text, sha: HEAD_SHA } });
      for (const color of [false, true]) {
        const out = renderTerminal(r, { color });
        const visible = out.replace(/\u001B\[[0-9;]*m/gu, '');
        expect(visible, label).not.toMatch(FORBIDDEN_CHARS);
        expect(visible, label).not.toContain('\r');
        expect(out.isWellFormed(), label).toBe(true);
        expect(visible, label).not.toContain('n'.repeat(200));
        if (!color) expect(out, label).not.toContain('\u001B');
      }
    }
  });
});
