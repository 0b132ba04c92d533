/**
 * The README's inputs and outputs tables, generated from action.yml so the two never disagree.
 * `npx node scripts/action-docs.mjs` rewrites the README between the markers; a unit test fails when they are stale.
 */
import { parse } from 'yaml';

/** Markers around the generated tables in README.md. */
export const MARKERS = {
  inputs: ['<!-- action-inputs:start -->', '<!-- action-inputs:end -->'],
  outputs: ['<!-- action-outputs:start -->', '<!-- action-outputs:end -->'],
} as const;

interface Entry {
  description?: string;
  default?: string;
}

function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|').trim();
}

function code(text: string): string {
  if (text === '') return '_empty_';
  const fence = text.includes('`') ? '`` ' : '`';
  return `${fence}${cell(text)}${fence === '`` ' ? ' ``' : '`'}`;
}

/** The inputs and outputs tables for the action metadata text. */
export function actionTables(actionYml: string): { inputs: string; outputs: string } {
  const doc = parse(actionYml) as { inputs?: Record<string, Entry>; outputs?: Record<string, Entry> };
  const inputs = Object.entries(doc.inputs ?? {}).map(
    ([name, e]) => `| \`${name}\` | ${code(String(e.default ?? ''))} | ${cell(e.description ?? '')} |`,
  );
  const outputs = Object.entries(doc.outputs ?? {}).map(
    ([name, e]) => `| \`${name}\` | ${cell(e.description ?? '')} |`,
  );
  return {
    inputs: ['| Input | Default | Description |', '| --- | --- | --- |', ...inputs].join('\n'),
    outputs: ['| Output | Description |', '| --- | --- |', ...outputs].join('\n'),
  };
}

function splice(text: string, [start, end]: readonly [string, string], body: string): string {
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${start} … ${end} block`);
  return `${text.slice(0, a + start.length)}\n${body}\n${text.slice(b)}`;
}

/** The README with both tables replaced by the ones generated from `actionYml`. */
export function withActionTables(readme: string, actionYml: string): string {
  const t = actionTables(actionYml);
  return splice(splice(readme, MARKERS.inputs, t.inputs), MARKERS.outputs, t.outputs);
}
