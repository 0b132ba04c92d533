/**
 * A small picture of where memory moved: a Mermaid `xychart-beta` bar chart of a scenario's largest site deltas.
 * Labels come from untrusted paths, so they are reduced to a safe character set.
 */
import type { ScenarioResult, SiteDiff } from '../report/types.js';
import { mermaidLabel } from './escape.js';
import { listedSites } from './model.js';

/** Which delta the chart shows. */
export type ChartMetric = 'peak' | 'retained' | 'leak';

const SCALES = [
  { unit: 'B', div: 1 },
  { unit: 'KiB', div: 1024 },
  { unit: 'MiB', div: 1024 ** 2 },
  { unit: 'GiB', div: 1024 ** 3 },
] as const;

function deltaOf(site: SiteDiff, metric: ChartMetric): number {
  return metric === 'leak' ? (site.leak?.delta ?? 0) : site[metric].delta;
}

function siteLabel(site: SiteDiff): string {
  const base = site.file.split('/').pop() ?? site.file;
  return mermaidLabel(`${base}:${site.line}`, 28);
}

/**
 * A fenced Mermaid bar chart of the `limit` largest site deltas of `metric`, or undefined when there is nothing
 * to show (no listed site has a non-zero delta).
 */
export function siteChart(s: ScenarioResult, metric: ChartMetric = 'peak', limit = 8): string | undefined {
  const sites = listedSites(s, Number.MAX_SAFE_INTEGER)
    .sites.filter((x) => deltaOf(x, metric) !== 0)
    .sort((a, b) => Math.abs(deltaOf(b, metric)) - Math.abs(deltaOf(a, metric)))
    .slice(0, limit);
  if (sites.length === 0) return undefined;
  const largest = Math.max(...sites.map((x) => Math.abs(deltaOf(x, metric))));
  const scale = [...SCALES].reverse().find((u) => largest >= u.div) ?? SCALES[0];
  const values = sites.map((x) => {
    const v = deltaOf(x, metric) / scale.div;
    return Number(v.toFixed(Math.abs(v) < 10 ? 2 : 1));
  });
  const labels = sites.map((x) => `"${siteLabel(x)}"`);
  const title = `${metric === 'leak' ? 'Leak per iteration' : metric === 'peak' ? 'Peak' : 'Retained'} change by site in ${scale.unit}`;
  return [
    '```mermaid',
    'xychart-beta',
    `    title "${mermaidLabel(title, 60)}"`,
    `    x-axis [${labels.join(', ')}]`,
    `    y-axis "${scale.unit}"`,
    `    bar [${values.join(', ')}]`,
    '```',
  ].join('\n');
}
