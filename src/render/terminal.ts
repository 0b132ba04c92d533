/**
 * The compare report for a terminal: the same content as the markdown, as aligned plain-text columns. Colour
 * (ANSI) only when asked — the CLI decides from the TTY and NO_COLOR. Untrusted text is cleaned of control and
 * bidirectional characters, so a scenario name can neither move the cursor nor reorder what is read.
 */
import type { CompareReport, ScenarioError, ScenarioResult, Verdict } from '../report/types.js';
import { cleanTerminal, isSha, LIMITS } from './escape.js';
import { formatBytes, formatChange, formatCount, formatDelta, shortSha } from './format.js';
import {
  budgetWords,
  DEFAULT_ACCEPT_LABEL,
  defaultCommand,
  detailWords,
  gcFindings,
  listedSites,
  scenarioOutcome,
  siteCounts,
  worstChange,
  worstChangeWords,
} from './model.js';

/** Options of {@link renderTerminal}. */
export interface TerminalOptions {
  /** Emit ANSI colours (default false). */
  color?: boolean;
  /** Sites listed per scenario (default 10). */
  topSites?: number;
  /** The pull-request label that accepts an intended increase. */
  acceptLabel?: string;
}

type Colour = 'red' | 'green' | 'yellow' | 'bold' | 'dim';
const ANSI: Record<Colour, [string, string]> = {
  red: ['\u001B[31m', '\u001B[39m'],
  green: ['\u001B[32m', '\u001B[39m'],
  yellow: ['\u001B[33m', '\u001B[39m'],
  bold: ['\u001B[1m', '\u001B[22m'],
  dim: ['\u001B[2m', '\u001B[22m'],
};

const SYMBOL: Record<Verdict, string> = { pass: '✔ PASS', warn: '▲ WARN', fail: '✖ FAIL', error: '‼ ERROR' };
const VERDICT_COLOUR: Record<Verdict, Colour> = { pass: 'green', warn: 'yellow', fail: 'red', error: 'red' };

/** A cell: its text and an optional colour applied after padding, so alignment never counts escape codes. */
interface Cell {
  text: string;
  colour?: Colour;
}

/** Display width in terminal columns: wide East Asian characters and emoji count 2, combining marks 0. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    if (/\p{M}/u.test(ch) || ch === '\u200D' || ch === '\uFE0E' || ch === '\uFE0F') continue;
    width +=
      /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]|\p{Extended_Pictographic}/u.test(
        ch,
      ) && !/[\u2000-\u2BFF]/u.test(ch)
        ? 2
        : 1;
  }
  return width;
}

function paint(text: string, colour: Colour | undefined, on: boolean): string {
  if (!on || !colour) return text;
  const [open, close] = ANSI[colour];
  return `${open}${text}${close}`;
}

function deltaColour(n: number): Colour | undefined {
  if (n > 0) return 'red';
  if (n < 0) return 'green';
  return undefined;
}

/** Lays out rows as columns separated by two spaces; `right` marks right-aligned columns. */
function columns(rows: Cell[][], right: boolean[], colour: boolean, indent = ''): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, displayWidth(c.text))));
  return rows.map((row) =>
    (
      indent +
      row
        .map((c, i) => {
          const pad = ' '.repeat((widths[i] ?? 0) - displayWidth(c.text));
          const body = paint(c.text, c.colour, colour);
          return right[i] ? pad + body : i === row.length - 1 ? body : body + pad;
        })
        .join('  ')
    ).trimEnd(),
  );
}

const plain = (t: string): string => cleanTerminal(t, LIMITS.name);

function totals(s: ScenarioResult, leak: boolean, rss: boolean): Cell[] {
  if (s.status === 'error')
    return [{ text: '—' }, { text: '—' }, ...(leak ? [{ text: '—' }] : []), ...(rss ? [{ text: '—' }] : [])];
  const fresh = s.status === 'no-baseline';
  const cells: Cell[] = [
    {
      text: fresh ? `${formatBytes(s.head.peak)} (no baseline)` : formatChange(s.base.peak, s.head.peak),
      colour: fresh ? undefined : deltaColour(s.delta.peak),
    },
    {
      text: fresh ? formatBytes(s.head.retained) : formatChange(s.base.retained, s.head.retained, false),
      colour: fresh ? undefined : deltaColour(s.delta.retained),
    },
  ];
  if (leak) {
    const l = s.head.leak;
    const d = l !== undefined && s.base.leak !== undefined && !fresh ? l - s.base.leak : undefined;
    cells.push({
      text: l === undefined ? '—' : `${formatBytes(l)}/iter${d !== undefined ? ` (${formatDelta(d)})` : ''}`,
      colour: d !== undefined ? deltaColour(d) : undefined,
    });
  }
  if (rss) {
    const r = s.head.rss;
    cells.push({
      text:
        r === undefined
          ? '—'
          : s.base.rss === undefined || fresh
            ? formatBytes(r)
            : formatChange(s.base.rss, r),
    });
  }
  return cells;
}

function status(s: ScenarioResult): Cell {
  const outcome = scenarioOutcome(s);
  if (outcome === 'error')
    return { text: `error on ${s.error?.side ?? 'head'}: ${plain(s.error?.reason ?? '')}`, colour: 'red' };
  const broken = s.budget.filter((b) => !b.ok).map((b) => budgetWords(b, plain));
  const prefix = s.status === 'no-baseline' ? 'no baseline; ' : '';
  if (broken.length === 0)
    return { text: `${prefix}${s.budget.length > 0 ? 'within budget' : 'no budget'}`, colour: 'green' };
  return { text: prefix + broken.join('; '), colour: VERDICT_COLOUR[outcome] };
}

function errorLines(s: ScenarioResult, e: ScenarioError, fatal: boolean): string[] {
  const where = e.side === 'both' ? 'on base and head' : `on ${e.side}`;
  const lead = fatal
    ? `  could not be measured ${where} (${plain(e.reason)}): ${cleanTerminal(e.message)}`
    : `  on base it failed (${plain(e.reason)}): ${cleanTerminal(e.message)}; head numbers shown without comparison`;
  void s;
  return [lead, ...e.tail.slice(-20).map((l) => `  │ ${cleanTerminal(l, LIMITS.tailLine)}`)];
}

/** Renders a compare report for a terminal: aligned columns, ANSI colour only when `options.color` is true. */
export function renderTerminal(report: CompareReport, options: TerminalOptions = {}): string {
  const colour = options.color === true;
  const top = Math.max(0, Math.floor(options.topSites ?? 10));
  const out: string[] = [];
  const v = report.verdict;

  let words: string;
  const errors = report.scenarios.filter((s) => s.status === 'error');
  if (report.error !== undefined && report.scenarios.length === 0)
    words = `could not compare: ${cleanTerminal(report.error)}`;
  else if (v === 'error' && errors[0])
    words = `${plain(errors[0].name)} could not be measured${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`;
  else {
    const w = worstChange(report.scenarios);
    words = w ? worstChangeWords(w, plain) : 'no change beyond the noise floor';
  }
  out.push(`${paint(SYMBOL[v], VERDICT_COLOUR[v], colour)}  memdelta: ${words}`);
  const side = (ref: string, sha: string): string =>
    `${isSha(sha) ? shortSha(sha) : cleanTerminal(sha, 40)} (${cleanTerminal(ref, 60)})`;
  out.push(`base ${side(report.base.ref, report.base.sha)} → head ${side(report.head.ref, report.head.sha)}`);
  if (report.error !== undefined && report.scenarios.length > 0)
    out.push(`could not compare: ${cleanTerminal(report.error)}`);

  if (report.scenarios.length > 0) {
    const leak = report.scenarios.some((s) => s.head.leak !== undefined);
    const rss = report.scenarios.some((s) => s.head.rss !== undefined);
    const header: Cell[] = [
      'Scenario',
      'Peak (base → head)',
      'Retained (base → head)',
      ...(leak ? ['Leak per iteration'] : []),
      ...(rss ? ['RSS, untraced'] : []),
      'Budget',
    ].map((text) => ({ text, colour: 'bold' as const }));
    const rows = report.scenarios.map((s) => [{ text: plain(s.name) }, ...totals(s, leak, rss), status(s)]);
    const right = [false, true, true, ...(leak ? [true] : []), ...(rss ? [true] : []), false];
    out.push('', ...columns([header, ...rows], right, colour));
  }

  for (const s of report.scenarios) {
    const outcome = scenarioOutcome(s);
    const findings = gcFindings(s, plain);
    const counts = siteCounts(s);
    const { sites, more } = listedSites(s, top);
    if (!s.error && !s.baseError && findings.length === 0 && sites.length === 0) continue;
    out.push('', paint(`${SYMBOL[outcome]}  ${plain(s.name)}`, VERDICT_COLOUR[outcome], colour));
    if (s.error) out.push(...errorLines(s, s.error, true));
    if (s.baseError) out.push(...errorLines(s, s.baseError, false));
    for (const f of findings) out.push(`  - ${f.replace(/`/gu, '')}`);
    if (sites.length > 0) {
      const leak = sites.some((x) => x.leak !== undefined);
      const header: Cell[] = [
        'Site',
        'Function',
        'Peak Δ',
        'Retained Δ',
        ...(leak ? ['Leak Δ/iter'] : []),
        'Status',
        'Code',
      ].map((text) => ({ text, colour: 'bold' as const }));
      const rows = sites.map((x) => [
        {
          text:
            cleanTerminal(`${x.file}:${x.line}`, LIMITS.path) +
            (x.via ? ` via ${cleanTerminal(x.via, LIMITS.path)}` : ''),
        },
        { text: cleanTerminal(x.function, LIMITS.function) },
        { text: formatDelta(x.peak.delta), colour: deltaColour(x.peak.delta) },
        { text: formatDelta(x.retained.delta), colour: deltaColour(x.retained.delta) },
        ...(leak
          ? [{ text: x.leak ? formatDelta(x.leak.delta) : '—', colour: deltaColour(x.leak?.delta ?? 0) }]
          : []),
        { text: x.status },
        { text: cleanTerminal(x.code, LIMITS.code), colour: 'dim' as const },
      ]);
      const right = [false, false, true, true, ...(leak ? [true] : []), false, false];
      out.push(...columns([header, ...rows], right, colour, '  '));
    }
    const notes: string[] = [];
    if (more > 0) notes.push(`${formatCount(more)} more changed sites not listed`);
    if (counts.same > 0) notes.push(`${formatCount(counts.same)} unchanged sites`);
    if (notes.length > 0) out.push(`  ${notes.join('; ')}`);
  }

  const settings = report.settings;
  out.push('');
  if (v === 'fail' || v === 'warn') {
    out.push(
      `Intended increase? Add the label "${cleanTerminal(options.acceptLabel ?? DEFAULT_ACCEPT_LABEL, LIMITS.name)}" ` +
        'to the pull request, or raise the budget in .memdelta.yml.',
    );
  }
  const base = isSha(report.base.sha) ? report.base.sha : 'BASE';
  const head = isSha(report.head.sha) ? report.head.sha : 'HEAD';
  out.push(`Reproduce: ${cleanTerminal(settings?.command ?? defaultCommand(base, head), 2000)}`);
  if (settings) {
    const facts = [
      ...(settings.python ? [`Python ${cleanTerminal(settings.python, 40)}`] : []),
      `${settings.frames} frame${settings.frames === 1 ? '' : 's'}`,
      `noise floor ${formatBytes(settings.minDelta.bytes)} and ${settings.minDelta.percent} %`,
      `memdelta ${cleanTerminal(settings.memdeltaVersion, 40)}`,
    ];
    out.push(paint(facts.join(' · '), 'dim', colour));
  }
  const details = new Set(
    report.scenarios
      .filter((s) => s.detail)
      .map((s) => `base ${detailWords(s.detail?.base)} · head ${detailWords(s.detail?.head)}`),
  );
  if (details.size === 1) out.push(paint(`Detail: ${[...details][0]}`, 'dim', colour));
  return out.join('\n') + '\n';
}
