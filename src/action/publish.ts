/**
 * What the action writes besides the comment: step outputs, the job summary, check annotations (as workflow
 * commands) and the log. Text that came from the pull request (progress messages, error tails, the rendered report)
 * is only ever printed between `::stop-commands::<token>` and `::<token>::`, so it cannot issue workflow commands.
 */
import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import { isProjectFile } from '../render/escape.js';
import { formatDelta } from '../render/format.js';
import type { CompareReport, SiteDiff } from '../report/types.js';

/** Annotations written at most, so a large regression does not bury the checks page. */
export const MAX_ANNOTATIONS = 10;
/** GitHub's job-summary limit is 1 MiB per step; rendered reports stay below it. */
export const SUMMARY_MAX_CHARS = 1_000_000;

/** Where log lines go; `process.stdout.write` in the action. */
export type Write = (text: string) => void;

/** Escapes the message of a workflow command (`%`, CR, LF), as the runner decodes it. */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a property value of a workflow command: the data escapes plus `:` and `,`. */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** Formats `::name key=value,...::message` with every part escaped. */
export function workflowCommand(
  name: string,
  props: Record<string, string | number>,
  message: string,
): string {
  const p = Object.entries(props)
    .map(([k, v]) => `${k}=${escapeProperty(String(v))}`)
    .join(',');
  return `::${name}${p ? ` ${p}` : ''}::${escapeData(message)}`;
}

/**
 * Runs `fn` with workflow commands switched off in the log: anything printed meanwhile (by the engine, a progress
 * message from a crashed benchmark, the report) is plain text. The token is random per call, so the printed text
 * cannot switch commands back on.
 */
export async function withCommandsStopped<T>(write: Write, fn: () => Promise<T>): Promise<T> {
  const token = `memdelta-${randomBytes(16).toString('hex')}`;
  write(`::stop-commands::${token}\n`);
  try {
    return await fn();
  } finally {
    write(`::${token}::\n`);
  }
}

/** Sum of a metric's change over the scenarios that were compared. */
function totalDelta(report: CompareReport, metric: 'peak' | 'retained'): number {
  return report.scenarios.filter((s) => s.status === 'ok').reduce((n, s) => n + s.delta[metric], 0);
}

/** Values of every output the action declares. */
export interface OutputValues {
  report: string;
  markdown: string;
  commentUrl: string;
}

/** Sets every output: verdict, peak-delta, retained-delta (bytes, summed over scenarios), report, markdown, comment-url. */
export function setOutputs(report: CompareReport, v: OutputValues): void {
  core.setOutput('verdict', report.verdict);
  core.setOutput('peak-delta', String(totalDelta(report, 'peak')));
  core.setOutput('retained-delta', String(totalDelta(report, 'retained')));
  core.setOutput('report', v.report);
  core.setOutput('markdown', v.markdown);
  core.setOutput('comment-url', v.commentUrl);
}

/** Writes the rendered report as the job summary (appended to GITHUB_STEP_SUMMARY). */
export async function writeSummary(markdown: string): Promise<void> {
  await core.summary.addRaw(markdown, true).write();
}

/** Prints the report in a collapsed log group, commands stopped. */
export async function printReport(write: Write, title: string, markdown: string): Promise<void> {
  core.startGroup(title);
  try {
    await withCommandsStopped(write, async () => {
      write(markdown.endsWith('\n') ? markdown : `${markdown}\n`);
    });
  } finally {
    core.endGroup();
  }
}

function grew(s: SiteDiff): boolean {
  return (
    (s.status === 'new' || s.status === 'changed') &&
    (s.peak.delta > 0 || s.retained.delta > 0 || (s.leak?.delta ?? 0) > 0)
  );
}

/**
 * Workflow commands annotating the project lines whose memory grew, biggest first, at most {@link MAX_ANNOTATIONS}.
 * Only repo-relative project files are annotated (never `site-packages/...`, `<stdlib>/...` or odd paths).
 * @param prefix the repository root relative to the workspace (`''` when they are the same folder)
 */
export function annotationCommands(report: CompareReport, prefix = ''): string[] {
  const found: { s: SiteDiff; scenario: string; weight: number }[] = [];
  for (const sc of report.scenarios) {
    if (sc.status !== 'ok') continue;
    for (const s of sc.sites) {
      if (!grew(s) || !isProjectFile(s.file) || s.line < 1) continue;
      found.push({ s, scenario: sc.name, weight: Math.max(s.peak.delta, s.retained.delta) });
    }
  }
  found.sort((a, b) => b.weight - a.weight || (a.s.file < b.s.file ? -1 : 1) || a.s.line - b.s.line);
  return found.slice(0, MAX_ANNOTATIONS).map(({ s, scenario }) => {
    const parts = [`peak ${formatDelta(s.peak.delta)}`, `retained ${formatDelta(s.retained.delta)}`];
    if (s.leak && s.leak.delta !== 0) parts.push(`leak ${formatDelta(s.leak.delta)}/iteration`);
    const file = prefix ? `${prefix.replace(/\/+$/, '')}/${s.file}` : s.file;
    return workflowCommand(
      'warning',
      { file, line: s.line, title: `memdelta: ${scenario.slice(0, 100)}` },
      `${s.status === 'new' ? 'New allocation site' : 'Allocation site grew'} in ${s.function.slice(0, 200)}: ${parts.join(', ')}.`,
    );
  });
}
