/**
 * Merging the partial compare reports of a sharded run (`--shard i/n`) into one report: one verdict, one comment,
 * one summary. The partial reports come from other jobs (artifacts), so they are checked against each other
 * before anything is merged: same commits, same shard count, each shard once, each scenario once.
 */
import type { CompareReport, ScenarioResult } from './types.js';
import { overallVerdict } from './verdict.js';

/** Partial reports that cannot be merged (they belong to different runs); the message says how they differ. */
export class ShardMergeError extends Error {
  override readonly name = 'ShardMergeError';
}

/** A partial report and a name for messages (its file). */
export interface NamedReport {
  name: string;
  report: CompareReport;
}

function sameCommits(a: CompareReport, b: CompareReport): boolean {
  return a.base.sha === b.base.sha && a.head.sha === b.head.sha;
}

/**
 * Merges partial reports into the report an unsharded run would have written: scenarios in the plan's order, the
 * verdict over all of them. A shard that is missing, or one that could not compare, makes the verdict `error`
 * (with the reason in `error`) while the scenarios that were compared are still reported.
 * @throws ShardMergeError when the reports belong to different compares or repeat a shard or a scenario
 */
export function aggregateReports(parts: readonly NamedReport[]): CompareReport {
  if (parts.length === 0) throw new ShardMergeError('no reports to aggregate');
  const first = parts[0] as NamedReport;
  const count = first.report.shard?.count ?? 1;
  const seen = new Map<number, string>();
  const placed: { position: number; scenario: ScenarioResult }[] = [];
  const names = new Map<string, string>();
  const problems: string[] = [];
  let total: number | undefined;
  for (const { name, report } of parts) {
    const shard = report.shard ?? { index: 1, count: 1, total: report.scenarios.length, positions: [] };
    if (shard.count !== count) {
      throw new ShardMergeError(
        `${name} is shard ${shard.index}/${shard.count} but ${first.name} is one of ${count} shards`,
      );
    }
    if (!sameCommits(report, first.report) && report.base.sha !== '' && first.report.base.sha !== '') {
      throw new ShardMergeError(
        `${name} compares ${report.base.sha.slice(0, 12)}..${report.head.sha.slice(0, 12)} but ${first.name} compares ${first.report.base.sha.slice(0, 12)}..${first.report.head.sha.slice(0, 12)}`,
      );
    }
    const earlier = seen.get(shard.index);
    if (earlier !== undefined)
      throw new ShardMergeError(`${name} and ${earlier} are both shard ${shard.index}/${count}`);
    seen.set(shard.index, name);
    if (report.error !== undefined) problems.push(`shard ${shard.index}/${count}: ${report.error}`);
    if (report.shard) {
      if (total !== undefined && report.shard.total !== total) {
        throw new ShardMergeError(
          `${name} has ${report.shard.total} scenarios in its plan, another shard ${total}`,
        );
      }
      total = report.shard.total;
      if (report.shard.positions.length !== report.scenarios.length) {
        throw new ShardMergeError(
          `${name} lists ${report.scenarios.length} scenarios but ${report.shard.positions.length} positions`,
        );
      }
    }
    report.scenarios.forEach((scenario, i) => {
      const other = names.get(scenario.name);
      if (other !== undefined) {
        throw new ShardMergeError(
          `scenario ${JSON.stringify(scenario.name.slice(0, 200))} is in both ${other} and ${name}`,
        );
      }
      names.set(scenario.name, name);
      placed.push({ position: report.shard?.positions[i] ?? i, scenario });
    });
  }
  const missing: number[] = [];
  for (let i = 1; i <= count; i++) if (!seen.has(i)) missing.push(i);
  if (missing.length > 0) {
    problems.unshift(
      `${missing.length === 1 ? 'shard' : 'shards'} ${missing.map((i) => `${i}/${count}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing: ${missing.length === 1 ? 'its' : 'their'} scenarios were not compared`,
    );
  }
  placed.sort((a, b) => a.position - b.position);
  const scenarios = placed.map((p) => p.scenario);
  const withCommits = parts.find((p) => p.report.base.sha !== '')?.report ?? first.report;
  const settings = parts.find((p) => p.report.settings)?.report.settings;
  const python = parts.map((p) => p.report.settings?.python).find(Boolean);
  return {
    schema: 'memdelta/compare@1',
    verdict: problems.length > 0 ? 'error' : overallVerdict(scenarios),
    base: withCommits.base,
    head: withCommits.head,
    scenarios,
    ...(problems.length > 0 ? { error: problems.join('; ').slice(0, 10_000) } : {}),
    ...(settings ? { settings: { ...settings, ...(python ? { python } : {}) } } : {}),
  };
}
