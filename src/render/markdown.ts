/**
 * The compare report as GitHub-flavoured markdown: the PR comment, the job summary and `memdelta compare
 * --markdown`. Untrusted text only ever appears through escape.ts; the only HTML is the renderer's own
 * `<details>`/`<summary>`. A comment must fit GitHub's 65 536-character limit, so detail is dropped in a fixed
 * order until it does, and the comment says what was left out.
 */
import { markdownTable } from 'markdown-table';
import type { CompareReport, ScenarioError, ScenarioResult, SiteDiff, Verdict } from '../report/types.js';
import { siteChart, type ChartMetric } from './chart.js';
import { blobUrl, codeBlock, codeSpan, commitUrl, htmlText, isSha, LIMITS } from './escape.js';
import { formatBytes, formatChange, formatCount, formatDelta, shortSha } from './format.js';
import {
  budgetWords,
  DEFAULT_ACCEPT_LABEL,
  defaultCommand,
  detailWords,
  gcFindings,
  listedSites,
  metricChange,
  parseRule,
  scenarioOutcome,
  siteCounts,
  worstChange,
  worstChangeWords,
} from './model.js';

/** Options of {@link renderMarkdown}. */
export interface MarkdownOptions {
  /** A hidden marker (e.g. `<!-- memdelta:default -->`) the output starts with, exactly. */
  marker?: string;
  /** Upper bound on the output length in characters (default 65 536, GitHub's comment limit). */
  maxChars?: number;
  /** Sites listed per scenario (default 10). */
  topSites?: number;
  /** The pull-request label that accepts an intended increase (default `memdelta: accept increase`). */
  acceptLabel?: string;
}

/** GitHub's limit on a comment body. */
export const COMMENT_LIMIT = 65_536;
/** Sites listed per scenario unless told otherwise. */
export const DEFAULT_TOP_SITES = 10;
/** Error output lines shown per failed side. */
const TAIL_LINES = 20;
/** Failing scenarios keep at least this many site rows when the comment has to shrink. */
const KEEP_FAILING_SITES = 3;
/** Scenarios that get a chart. */
const MAX_CHARTS = 3;

const SYMBOL: Record<Verdict, string> = { pass: '✅', warn: '⚠️', fail: '❌', error: '⛔' };

const inline = (t: string): string => codeSpan(t, { max: LIMITS.name });
const cell = (t: string, max: number = LIMITS.name): string => codeSpan(t, { max, inTable: true });

/** What is shown; shrunk step by step until the comment fits. */
interface Plan {
  siteLimit: number[];
  charts: boolean;
  passingFindings: boolean;
  passingRows: boolean;
  tailLines: number;
}

function shaLink(report: CompareReport, sha: string): string {
  if (!isSha(sha)) return inline(sha);
  const url = commitUrl(report.settings?.repositoryUrl, sha);
  const text = `\`${shortSha(sha)}\``;
  return url ? `[${text}](${url})` : text;
}

function headline(report: CompareReport): string {
  const v = report.verdict;
  let words: string;
  const errors = report.scenarios.filter((s) => s.status === 'error');
  if (report.error !== undefined && report.scenarios.length === 0) {
    words = `could not compare: ${codeSpan(report.error, { max: LIMITS.message })}`;
  } else if (v === 'error' && errors.length > 0) {
    const first = errors[0] as ScenarioResult;
    const side = first.error?.side ?? 'head';
    const reason = first.error ? ` (${inline(first.error.reason)})` : '';
    const more =
      errors.length > 1 ? `, and ${errors.length - 1} more scenario${errors.length > 2 ? 's' : ''}` : '';
    words = `${inline(first.name)} could not be measured on ${side}${reason}${more}`;
  } else {
    const worst = worstChange(report.scenarios);
    const fresh = report.scenarios.filter((s) => s.status === 'no-baseline').length;
    if (worst) words = worstChangeWords(worst, inline);
    else if (fresh > 0)
      words = `${fresh} scenario${fresh === 1 ? '' : 's'} without a baseline, within budget`;
    else words = 'no change beyond the noise floor';
  }
  const shas = `base ${shaLink(report, report.base.sha)} → head ${shaLink(report, report.head.sha)}`;
  return `### ${SYMBOL[v]} memdelta: ${v} — ${words} · ${shas}`;
}

function statusCell(s: ScenarioResult): string {
  const outcome = scenarioOutcome(s);
  if (outcome === 'error') {
    const side = s.error ? ` on ${s.error.side}` : '';
    return `${SYMBOL.error} error${side}: ${cell(s.error?.reason ?? 'unknown', 40)}`;
  }
  const broken = s.budget.filter((b) => !b.ok);
  const prefix = s.status === 'no-baseline' ? '🆕 no baseline' : '';
  if (broken.length === 0) {
    const ok = s.budget.length > 0 ? `${SYMBOL.pass} within budget` : `${SYMBOL.pass} no budget`;
    return prefix ? `${prefix}, ${ok.slice(2)}` : ok;
  }
  const words = broken.map((b) => `${SYMBOL[b.level]} ${budgetWords(b, (t) => cell(t, 40))}`).join('; ');
  return prefix ? `${prefix}; ${words}` : words;
}

function totalsCells(s: ScenarioResult, leak: boolean, rss: boolean): string[] {
  const cells: string[] = [];
  if (s.status === 'error') {
    cells.push('—', '—');
    if (leak) cells.push('—');
    if (rss) cells.push('—');
    return cells;
  }
  const fresh = s.status === 'no-baseline';
  cells.push(fresh ? `${formatBytes(s.head.peak)} (no baseline)` : formatChange(s.base.peak, s.head.peak));
  cells.push(fresh ? formatBytes(s.head.retained) : formatChange(s.base.retained, s.head.retained, false));
  if (leak) {
    if (s.head.leak === undefined) cells.push('—');
    else if (fresh || s.base.leak === undefined) cells.push(`${formatBytes(s.head.leak)}/iter`);
    else cells.push(`${formatBytes(s.head.leak)}/iter (${formatDelta(s.head.leak - s.base.leak)})`);
  }
  if (rss) {
    if (s.head.rss === undefined) cells.push('—');
    else if (fresh || s.base.rss === undefined) cells.push(formatBytes(s.head.rss));
    else cells.push(formatChange(s.base.rss, s.head.rss));
  }
  return cells;
}

function scenarioTable(report: CompareReport, plan: Plan): string {
  const shown = report.scenarios.filter((s) => plan.passingRows || scenarioOutcome(s) !== 'pass');
  if (shown.length === 0) return '';
  const leak = report.scenarios.some((s) => s.head.leak !== undefined);
  const rss = report.scenarios.some((s) => s.head.rss !== undefined);
  const header = ['Scenario', 'Peak (base → head)', 'Retained (base → head)'];
  if (leak) header.push('Leak per iteration');
  if (rss) header.push('RSS, untraced');
  header.push('Budget');
  const rows = shown.map((s) => {
    const name = cell(s.name) + (s.baseError ? ' (base failed)' : '');
    return [name, ...totalsCells(s, leak, rss), statusCell(s)];
  });
  const align = ['l', 'r', 'r', ...(leak ? ['r'] : []), ...(rss ? ['r'] : []), 'l'];
  return markdownTable([header, ...rows], { align, alignDelimiters: false });
}

function siteCell(report: CompareReport, site: SiteDiff): string {
  const label = cell(`${site.file}:${site.line}`, LIMITS.path);
  const url = blobUrl(report.settings?.repositoryUrl, report.head.sha, site.file, site.line);
  // Removed sites exist only on base: link them there.
  const removedUrl = blobUrl(report.settings?.repositoryUrl, report.base.sha, site.file, site.line);
  const href = site.status === 'removed' ? removedUrl : url;
  const linked = href ? `[${label}](${href})` : label;
  return site.via ? `${linked} via ${cell(site.via, LIMITS.path)}` : linked;
}

function sitesTable(report: CompareReport, s: ScenarioResult, sites: SiteDiff[]): string {
  const leak = sites.some((x) => x.leak !== undefined);
  const header = [
    'Site',
    'Function',
    'Code',
    'Peak Δ',
    'Retained Δ',
    ...(leak ? ['Leak Δ/iter'] : []),
    'Status',
  ];
  const rows = sites.map((x) => [
    siteCell(report, x),
    cell(x.function, LIMITS.function),
    cell(x.code, LIMITS.code),
    formatDelta(x.peak.delta),
    formatDelta(x.retained.delta),
    ...(leak ? [x.leak ? formatDelta(x.leak.delta) : '—'] : []),
    x.status,
  ]);
  const align = ['l', 'l', 'l', 'r', 'r', ...(leak ? ['r'] : []), 'l'];
  void s;
  return markdownTable([header, ...rows], { align, alignDelimiters: false });
}

function sitesBlock(
  report: CompareReport,
  s: ScenarioResult,
  limit: number,
  open: boolean,
  extra: string[],
): string {
  const counts = siteCounts(s);
  const { sites, more } = listedSites(s, limit);
  if (counts.changed === 0 && extra.length === 0) return '';
  const summary =
    `Sites in ${htmlText(s.name)}: ${formatCount(counts.changed)} changed, ` +
    `${formatCount(counts.same)} unchanged`;
  const parts = [`<details${open ? ' open' : ''}><summary>${summary}</summary>`, ''];
  if (extra.length > 0) parts.push(extra.join('\n'), '');
  if (sites.length > 0) parts.push(sitesTable(report, s, sites), '');
  const notes: string[] = [];
  if (more > 0) notes.push(`${formatCount(more)} more changed site${more === 1 ? '' : 's'} not listed`);
  if (counts.same > 0)
    notes.push(`${formatCount(counts.same)} unchanged site${counts.same === 1 ? '' : 's'} not listed`);
  if (notes.length > 0) parts.push(`${notes.join('; ')}.`, '');
  parts.push('</details>');
  return parts.join('\n');
}

function errorBlock(s: ScenarioResult, e: ScenarioError, tailLines: number, fatal: boolean): string {
  const where = e.side === 'both' ? 'on base and head' : `on ${e.side}`;
  const lead = fatal
    ? `**${inline(s.name)} could not be measured ${where}** (${inline(e.reason)}): ${codeSpan(e.message, { max: LIMITS.message })}`
    : `**On base, ${inline(s.name)} failed** (${inline(e.reason)}): ${codeSpan(e.message, { max: LIMITS.message })}. ` +
      'Head was measured anyway; its numbers are shown without a comparison.';
  const tail = e.tail.slice(-tailLines);
  if (tail.length === 0 || tailLines === 0) return lead;
  return [
    lead,
    '',
    `Last ${tail.length} line${tail.length === 1 ? '' : 's'} of output:`,
    '',
    codeBlock(tail),
  ].join('\n');
}

function chartMetric(s: ScenarioResult): ChartMetric {
  const broken = s.budget.filter((b) => !b.ok);
  const metric = parseRule((broken.find((b) => b.level === 'fail') ?? broken[0])?.rule ?? '').metric;
  if (metric.startsWith('retained')) return 'retained';
  if (metric.startsWith('leak')) return 'leak';
  return 'peak';
}

function scenarioSection(
  report: CompareReport,
  s: ScenarioResult,
  index: number,
  plan: Plan,
  chartAllowed: boolean,
): string {
  const outcome = scenarioOutcome(s);
  const findings = gcFindings(s, inline).map((f) => `- ${f}`);
  const parts: string[] = [];
  if (outcome === 'pass') {
    const extra = plan.passingFindings && findings.length > 0 ? ['Findings from gc:', '', ...findings] : [];
    const block = sitesBlock(report, s, plan.siteLimit[index] ?? 0, false, extra);
    if (s.baseError) parts.push(errorBlock(s, s.baseError, plan.tailLines, false));
    if (block) parts.push(block);
    return parts.join('\n\n');
  }
  const summary =
    s.status === 'ok' ? ` — ${metricChange(s, 'peak')}, retained ${formatDelta(s.delta.retained)}` : '';
  parts.push(`#### ${SYMBOL[outcome]} ${inline(s.name)}${summary}`);
  if (s.error) parts.push(errorBlock(s, s.error, plan.tailLines, true));
  if (s.baseError) parts.push(errorBlock(s, s.baseError, plan.tailLines, false));
  if (findings.length > 0) parts.push(['Findings from gc:', '', ...findings].join('\n'));
  if (chartAllowed && plan.charts) {
    const chart = siteChart(s, chartMetric(s));
    if (chart) parts.push(chart);
  }
  const block = sitesBlock(report, s, plan.siteLimit[index] ?? 0, outcome === 'fail', []);
  if (block) parts.push(block);
  return parts.join('\n\n');
}

function footer(report: CompareReport, options: MarkdownOptions): string {
  const lines: string[] = [];
  const settings = report.settings;
  if (report.verdict === 'fail' || report.verdict === 'warn') {
    const label = codeSpan(options.acceptLabel ?? DEFAULT_ACCEPT_LABEL, { max: LIMITS.name });
    lines.push(
      `**Intended increase?** Add the label ${label} to the pull request, or raise the budget in \`.memdelta.yml\`.`,
      '',
    );
  }
  const base = isSha(report.base.sha) ? report.base.sha : 'BASE';
  const head = isSha(report.head.sha) ? report.head.sha : 'HEAD';
  lines.push(
    'Reproduce locally:',
    '',
    codeBlock([settings?.command ?? defaultCommand(base, head)], 'sh', 2000),
    '',
  );

  const facts: string[] = [];
  if (settings?.python) facts.push(`Python ${codeSpan(settings.python, { max: 40 })}`);
  if (settings) facts.push(`${settings.frames} frame${settings.frames === 1 ? '' : 's'}`);
  const iterations = [...new Set(report.scenarios.map((s) => s.iterations ?? 0))];
  if (iterations.length === 1 && (iterations[0] ?? 0) > 0)
    facts.push(`${formatCount(iterations[0] ?? 0)} iterations`);
  else if (iterations.some((n) => n > 0)) {
    const repeated = report.scenarios.filter((s) => (s.iterations ?? 0) > 0);
    const shown = repeated
      .slice(0, 3)
      .map((s) => `${formatCount(s.iterations ?? 0)} iterations of ${inline(s.name)}`);
    facts.push(shown.join(', ') + (repeated.length > 3 ? `, and ${repeated.length - 3} more repeated` : ''));
  }
  if (settings) {
    facts.push(`noise floor ${formatBytes(settings.minDelta.bytes)} and ${settings.minDelta.percent} %`);
    facts.push(`memdelta ${codeSpan(settings.memdeltaVersion, { max: 40 })}`);
  }
  if (facts.length > 0) lines.push(facts.join(' · '), '');

  const groups = new Map<string, string[]>();
  for (const s of report.scenarios) {
    if (!s.detail) continue;
    const key = `base ${detailWords(s.detail.base)} · head ${detailWords(s.detail.head)}`;
    groups.set(key, [...(groups.get(key) ?? []), s.name]);
  }
  if (groups.size === 1) {
    lines.push(`Detail: ${[...groups.keys()][0]}.`, '');
  } else if (groups.size > 1) {
    for (const [key, names] of groups) {
      const listed = names.slice(0, 3).map(inline).join(', ');
      const more = names.length > 3 ? ` and ${names.length - 3} more` : '';
      lines.push(`- ${listed}${more}: ${key}.`);
    }
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}

function compose(report: CompareReport, options: MarkdownOptions, plan: Plan, omitted: string[]): string {
  const parts: string[] = [];
  if (options.marker !== undefined) parts.push(options.marker);
  parts.push(headline(report));
  if (omitted.length > 0) {
    parts.push(
      `> [!NOTE]\n> Left out to fit the comment: ${omitted.join(', ')}. ` +
        'The full report is in the job summary and in the JSON report artifact.',
    );
  }
  if (report.error !== undefined && report.scenarios.length > 0) {
    parts.push(`Could not compare: ${codeSpan(report.error, { max: LIMITS.message })}`);
  }
  const table = scenarioTable(report, plan);
  if (table) parts.push(table);
  const hiddenRows = plan.passingRows
    ? 0
    : report.scenarios.filter((s) => scenarioOutcome(s) === 'pass').length;
  if (hiddenRows > 0) parts.push(`${formatCount(hiddenRows)} passing scenarios not listed.`);

  const order = report.scenarios
    .map((s, i) => ({ s, i, rank: ['error', 'fail', 'warn', 'pass'].indexOf(scenarioOutcome(s)) }))
    .sort((a, b) => a.rank - b.rank || a.i - b.i);
  let charts = 0;
  const sections: string[] = [];
  for (const { s, i } of order) {
    const outcome = scenarioOutcome(s);
    const chartAllowed = (outcome === 'fail' || outcome === 'warn') && charts < MAX_CHARTS;
    if (chartAllowed) charts += 1;
    const section = scenarioSection(report, s, i, plan, chartAllowed);
    if (section) sections.push(section);
  }
  parts.push(...sections);
  parts.push(`---\n\n${footer(report, options)}`);
  return parts.join('\n\n') + '\n';
}

function omittedWords(report: CompareReport, plan: Plan, full: Plan): string[] {
  const out: string[] = [];
  const listed = (i: number, limit: number): number =>
    listedSites(report.scenarios[i] as ScenarioResult, limit).sites.length;
  const passingDropped = report.scenarios.filter(
    (s, i) =>
      scenarioOutcome(s) === 'pass' && listed(i, plan.siteLimit[i] ?? 0) < listed(i, full.siteLimit[i] ?? 0),
  ).length;
  if (passingDropped > 0)
    out.push(`site rows of ${passingDropped} passing scenario${passingDropped === 1 ? '' : 's'}`);
  if (!plan.charts && full.charts) out.push('the chart');
  const failingTrimmed = report.scenarios.filter(
    (s, i) =>
      scenarioOutcome(s) !== 'pass' && listed(i, plan.siteLimit[i] ?? 0) < listed(i, full.siteLimit[i] ?? 0),
  ).length;
  if (failingTrimmed > 0)
    out.push(
      `site rows of ${failingTrimmed} failing or warning scenario${failingTrimmed === 1 ? '' : 's'} beyond the top ${KEEP_FAILING_SITES}`,
    );
  const passing = report.scenarios.filter((s) => scenarioOutcome(s) === 'pass');
  if (!plan.passingFindings && passing.some((s) => gcFindings(s, (t) => t).length > 0))
    out.push('gc findings of passing scenarios');
  if (!plan.passingRows && passing.length > 0) out.push('table rows of passing scenarios');
  const tails = report.scenarios.flatMap((s) => [s.error, s.baseError]).map((e) => e?.tail.length ?? 0);
  if (tails.some((n) => n > plan.tailLines)) out.push('lines of error output');
  return out;
}

/** The reductions, in the order they are applied, each a change to the plan. */
function* reductions(report: CompareReport, plan: Plan): Generator<void> {
  const byOutcome = (want: (v: Verdict) => boolean): number[] =>
    report.scenarios
      .map((s, i) => ({ s, i }))
      .filter(({ s }) => want(scenarioOutcome(s)))
      .map(({ i }) => i)
      .reverse();
  for (const i of byOutcome((v) => v === 'pass')) {
    if ((plan.siteLimit[i] ?? 0) === 0) continue;
    plan.siteLimit[i] = 0;
    yield;
  }
  plan.charts = false;
  yield;
  // Warning scenarios give up rows before failing ones.
  const nonPassing = [...byOutcome((v) => v === 'warn'), ...byOutcome((v) => v === 'fail' || v === 'error')];
  for (const i of nonPassing) {
    if ((plan.siteLimit[i] ?? 0) <= KEEP_FAILING_SITES) continue;
    plan.siteLimit[i] = KEEP_FAILING_SITES;
    yield;
  }
  plan.passingFindings = false;
  yield;
  plan.tailLines = 5;
  yield;
  plan.passingRows = false;
  yield;
  for (const i of nonPassing) {
    plan.siteLimit[i] = 0;
    yield;
  }
  plan.tailLines = 0;
  yield;
}

/**
 * Renders a compare report as markdown for a PR comment, a job summary or a file.
 *
 * The output starts with `options.marker` when given, and stays within `options.maxChars` (default 65 536) by
 * dropping detail in a fixed order — site rows of passing scenarios, then the chart, then site rows of failing
 * scenarios beyond the top 3 — and saying what was left out. Constructs (tables, code blocks, `<details>`) are
 * never cut in the middle.
 */
export function renderMarkdown(report: CompareReport, options: MarkdownOptions = {}): string {
  const maxChars = options.maxChars ?? COMMENT_LIMIT;
  const top = Math.max(0, Math.floor(options.topSites ?? DEFAULT_TOP_SITES));
  const full: Plan = {
    siteLimit: report.scenarios.map(() => top),
    charts: true,
    passingFindings: true,
    passingRows: true,
    tailLines: TAIL_LINES,
  };
  const plan: Plan = { ...full, siteLimit: [...full.siteLimit] };
  let out = compose(report, options, plan, []);
  if (out.length <= maxChars) return out;
  for (const _ of reductions(report, plan)) {
    out = compose(report, options, plan, omittedWords(report, plan, full));
    if (out.length <= maxChars) return out;
  }
  return minimal(report, options);
}

/** The last resort when even the smallest plan does not fit: the headline, a pointer and the footer. */
function minimal(report: CompareReport, options: MarkdownOptions): string {
  const parts: string[] = [];
  if (options.marker !== undefined) parts.push(options.marker);
  parts.push(headline(report));
  parts.push(
    `> [!NOTE]\n> This report is too large for a comment (${formatCount(report.scenarios.length)} scenarios). ` +
      'The full report is in the job summary and in the JSON report artifact.',
  );
  parts.push(`---\n\n${footer(report, options)}`);
  return parts.join('\n\n') + '\n';
}
