/**
 * The action from inputs to exit status. Order matters: outputs, then the job summary, then the comment, and only
 * then the failure, so a failing check still leaves everything a reviewer needs.
 *
 * Modes: `run` compares and publishes; `measure` compares and writes the report file for an artifact, without a
 * comment (the pull_request half of the fork-PR pattern); `comment` publishes a downloaded report in a workflow_run
 * workflow, treating the report as untrusted data and never running pull request code.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, open, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as core from '@actions/core';
import { restoreBaseCache, saveBaseCache } from './cache.js';
import { CommentPermissionError, hasStickyComment, upsertStickyComment } from './comment.js';
import { guardCommandFiles } from './command-files.js';
import { redact, secretValues } from './redact.js';
import {
  pullFromPayload,
  readEvent,
  resolveCompareTarget,
  resolveWorkflowRunPull,
  type PullRequestRef,
} from './event.js';
import { readInputs, type ActionInputs } from './inputs.js';
import { createOctokit, type GitHubClient } from './octokit.js';
import {
  annotationCommands,
  printReport,
  setOutputs,
  SUMMARY_MAX_CHARS,
  withCommandsStopped,
  writeSummary,
  type Write,
} from './publish.js';
import { GITHUB_COMMENT_LIMIT } from './truncate.js';
import type { PlanFlags } from '../plan/config.js';
import { renderMarkdown } from '../render/markdown.js';
import { ShardMergeError, aggregateReports } from '../report/aggregate.js';
import { MAX_COMPARE_REPORT_BYTES, parseCompareReport } from '../report/compare-schema.js';
import type { CompareReport, Verdict } from '../report/types.js';
import { defaultCleanups } from '../run/cleanup.js';
import { compare } from '../run/compare.js';
import { progressLine, reproduceCommand } from '../run/describe.js';
import { makeGit } from '../run/git.js';
import { loadPlan, writeAtomic } from '../run/load-plan.js';
import { defaultProbeDir } from '../run/probe.js';
import { resolveCommit } from '../run/worktree.js';
import { VERSION } from '../version.js';

/** Room left in a comment for the marker and run line that the sticky comment adds in front. */
const COMMENT_BODY_MAX = GITHUB_COMMENT_LIMIT - 512;

/** The process edges the action uses; the entry passes the real ones. */
export interface ActionIo {
  env: Record<string, string | undefined>;
  write: Write;
}

/** An error the user must fix; shown as it is, without "unexpected". */
export class ActionError extends Error {
  override readonly name = 'ActionError';
}

/** Whether the step fails for this verdict. `error` always fails; an accepted increase never does. */
export function failsStep(verdict: Verdict, failOn: ActionInputs['failOn'], accepted: boolean): boolean {
  if (verdict === 'error') return true;
  if (accepted || failOn === 'never') return false;
  return verdict === 'fail' || (failOn === 'warn' && verdict === 'warn');
}

function hasChange(report: CompareReport): boolean {
  return (
    report.verdict !== 'pass' ||
    report.scenarios.some((s) => s.status !== 'ok' || s.sites.some((x) => x.status !== 'same'))
  );
}

function repoOf(env: ActionIo['env']): { owner: string; repo: string } {
  const [owner, repo, ...rest] = (env['GITHUB_REPOSITORY'] ?? '').split('/');
  if (!owner || !repo || rest.length > 0)
    throw new ActionError('GITHUB_REPOSITORY is not set to owner/name.');
  return { owner, repo };
}

/** The repository's web address on this GitHub (github.com or Enterprise Server), from the runner's variables. */
function repositoryUrl(env: ActionIo['env']): string | undefined {
  const server = (env['GITHUB_SERVER_URL'] ?? '').replace(/\/+$/, '');
  const repo = env['GITHUB_REPOSITORY'] ?? '';
  return server && /^[\w.-]+\/[\w.-]+$/.test(repo) ? `${server}/${repo}` : undefined;
}

function makeClient(inputs: ActionInputs, env: ActionIo['env']): GitHubClient {
  return createOctokit({
    token: inputs.githubToken,
    // GitHub Enterprise Server included: the runner says where the API is; no host is assumed.
    baseUrl: env['GITHUB_API_URL'] ?? '',
    userAgent: `memdelta/${VERSION}`,
    log: { debug: (m) => core.debug(m), warn: (m) => core.info(m) },
  });
}

/** The folder of the report files in mode run: private to this step. */
function scratchDir(env: ActionIo['env']): string {
  return join(env['RUNNER_TEMP'] || tmpdir(), `memdelta-${randomBytes(6).toString('hex')}`);
}

function planFlags(inputs: ActionInputs): PlanFlags {
  return {
    run: inputs.run,
    pytest: inputs.pytest,
    python: inputs.python,
    setup: inputs.setup,
    iterations: inputs.iterations,
    frames: inputs.frames,
    minDelta: inputs.minDelta,
    timeout: inputs.timeout,
    memoryLimit: inputs.memoryLimit,
    budgets: inputs.budgets,
  };
}

function errorReport(message: string, base: string, head: string): CompareReport {
  return {
    schema: 'memdelta/compare@1',
    verdict: 'error',
    base: { ref: base, sha: /^[0-9a-f]{40}$/.test(base) ? base : '' },
    head: { ref: head, sha: /^[0-9a-f]{40}$/.test(head) ? head : '' },
    scenarios: [],
    error: message.slice(0, 10_000),
  };
}

function acceptedNote(label: string): string {
  return `> [!NOTE]\n> The pull request has the label \`${label.replace(/`/g, "'")}\`: the memory increase below is accepted and does not fail the check.\n\n`;
}

interface Publication {
  report: CompareReport;
  reportPath: string;
  pull: PullRequestRef | undefined;
  /** Whether a failing verdict may fail the step (not in mode comment, where the report is untrusted). */
  gate: boolean;
  /** Run the sticky comment (false in mode measure). */
  commentAllowed: boolean;
  /** Repository root relative to the workspace, for annotation paths; undefined: no annotations. */
  annotatePrefix: string | undefined;
}

/** Decides whether this run writes the comment, per the `comment` input. */
async function wantsComment(
  inputs: ActionInputs,
  report: CompareReport,
  octokit: GitHubClient,
  where: { owner: string; repo: string },
  pull: number,
): Promise<boolean> {
  switch (inputs.comment) {
    case 'never':
      return false;
    case 'always':
      return true;
    case 'on-change':
    case 'on-regression': {
      const due = inputs.comment === 'on-change' ? hasChange(report) : report.verdict !== 'pass';
      if (due) return true;
      // Nothing to say now, but our earlier comment must not keep showing a regression that is gone.
      return hasStickyComment(octokit, { ...where, issueNumber: pull, key: inputs.commentKey });
    }
  }
}

/** Outputs, summary, comment, annotations, log; returns the failure message if the step must fail. */
async function publish(inputs: ActionInputs, io: ActionIo, p: Publication): Promise<string | undefined> {
  const { report, pull } = p;
  const accepted = pull !== undefined && pull.labels.includes(inputs.acceptLabel);
  const note =
    accepted && (report.verdict === 'fail' || report.verdict === 'warn')
      ? acceptedNote(inputs.acceptLabel)
      : '';
  const options = { acceptLabel: inputs.acceptLabel };
  const summary = note + renderMarkdown(report, { ...options, maxChars: SUMMARY_MAX_CHARS - note.length });
  const markdownPath = join(dirname(p.reportPath), 'memdelta-report.md');
  await writeAtomic(markdownPath, summary);

  let commentUrl = '';
  const body = note + renderMarkdown(report, { ...options, maxChars: COMMENT_BODY_MAX - note.length });
  if (p.commentAllowed && pull !== undefined && inputs.comment !== 'never') {
    const where = repoOf(io.env);
    try {
      const octokit = makeClient(inputs, io.env);
      if (await wantsComment(inputs, report, octokit, where, pull.number)) {
        const result = await upsertStickyComment(octokit, {
          ...where,
          issueNumber: pull.number,
          key: inputs.commentKey,
          body,
          measuredSha: pull.headSha,
          log: (m) => core.info(m),
        });
        commentUrl = result.url;
        core.info(`memdelta: comment ${result.action}: ${result.url}`);
      } else {
        core.info(`memdelta: no comment (comment: ${inputs.comment}, nothing to report).`);
      }
    } catch (e) {
      if (e instanceof CommentPermissionError || (e as { status?: number }).status === 403) {
        // Fork pull requests get a read-only token: the check still works, the report is in the summary and log.
        core.warning(
          e instanceof CommentPermissionError
            ? e.message
            : `Cannot comment on the pull request (${(e as Error).message}). Give the job \`permissions: pull-requests: write\`; on pull requests from forks see docs/fork-prs.md.`,
        );
      } else {
        // GitHub being down must not turn a passing check red or a failing one green: the step's status follows
        // the verdict alone, the report is in the summary and the log, and the warning says what went wrong.
        core.warning(`memdelta could not publish the pull request comment: ${(e as Error).message}`);
      }
      await printReport(io.write, 'memdelta report (markdown)', body);
    }
  }

  setOutputs(report, { report: p.reportPath, markdown: markdownPath, commentUrl });
  await writeSummary(summary);
  if (inputs.annotations && p.annotatePrefix !== undefined) {
    for (const line of annotationCommands(report, p.annotatePrefix)) io.write(`${line}\n`);
  }

  const verdictLine = `memdelta: verdict ${report.verdict}${accepted && note ? ` (accepted by the label "${inputs.acceptLabel}")` : ''}`;
  core.info(verdictLine);
  if (p.gate && report.verdict === 'error')
    return `memdelta could not compare: ${report.error ?? report.scenarios.find((s) => s.error)?.error?.message ?? 'a scenario failed'}`;
  if (p.gate && failsStep(report.verdict, inputs.failOn, accepted)) {
    const over = report.scenarios.flatMap((s) =>
      s.budget.filter((b) => !b.ok).map((b) => `${s.name}: ${b.rule}`),
    );
    return `memdelta: over budget (${over.slice(0, 5).join('; ') || report.verdict}). See the job summary; if the increase is intended, add the label "${inputs.acceptLabel}".`;
  }
  return undefined;
}

/** Mode run and measure: compare base and head of the checkout. */
async function measureAndPublish(inputs: ActionInputs, io: ActionIo): Promise<string | undefined> {
  const workspace = io.env['GITHUB_WORKSPACE'] || process.cwd();
  const dir = resolve(workspace, inputs.workingDirectory);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ActionError(
      `Input "working-directory": ${inputs.workingDirectory} is not a folder in the workspace (did the job run actions/checkout?).`,
    );
  }
  const git = makeGit(dir);
  const event = await readEvent(io.env);
  const target = await resolveCompareTarget(event, git, {
    baseRef: inputs.baseRef,
    allowUntrustedCheckout: inputs.allowUntrustedCheckout,
  });
  if (target.untrustedWarning) core.warning(target.untrustedWarning);
  core.info(`memdelta: head ${target.head.slice(0, 12)}, base ${target.base.slice(0, 12)}: ${target.why}`);

  const reportPath =
    inputs.mode === 'measure'
      ? resolve(workspace, inputs.reportFile)
      : join(scratchDir(io.env), 'memdelta-report.json');
  await mkdir(dirname(reportPath), { recursive: true });

  let report: CompareReport;
  // Taken before any pull request code runs (the setup command included), put back after the last of it.
  const restoreCommandFiles = await guardCommandFiles(io.env);
  const uninstall = defaultCleanups.install();
  // Base reports are deterministic: restored before the compare, saved after (docs/config.md, "Base cache").
  const cacheDir = inputs.cache ? join(io.env['RUNNER_TEMP'] || tmpdir(), 'memdelta-base-cache') : undefined;
  const runnerOs = io.env['RUNNER_OS'] || process.platform;
  const knownBase = cacheDir ? await resolveCommit(git, target.base).catch(() => undefined) : undefined;
  const restored =
    cacheDir && knownBase
      ? await restoreBaseCache(cacheDir, knownBase, runnerOs, (m) => core.info(m))
      : undefined;
  try {
    const plan = await loadPlan({
      repo: dir,
      ...(inputs.config !== undefined ? { config: inputs.config } : {}),
      flags: planFlags(inputs),
      parentEnv: io.env,
      hint: 'add one, or set the config, run or pytest input',
    });
    const url = repositoryUrl(io.env);
    report = await withCommandsStopped(io.write, () =>
      compare({
        git,
        baseRef: target.base,
        headRef: target.head,
        plan,
        probeDir: defaultProbeDir(),
        registry: defaultCleanups,
        // The engine passes only its allow-list on to the benchmark: never INPUT_*, tokens or command files.
        parentEnv: io.env,
        onProgress: (pr) => {
          const line = progressLine(pr);
          if (line) io.write(`${line}\n`);
        },
        memdeltaVersion: VERSION,
        ...(url ? { repositoryUrl: url } : {}),
        ...(cacheDir ? { cacheDir } : {}),
        ...(inputs.shard ? { shard: inputs.shard } : {}),
      }),
    );
    if (cacheDir && report.base.sha) {
      const matched = report.base.sha === knownBase ? restored : undefined;
      await saveBaseCache(cacheDir, report.base.sha, runnerOs, matched, (m) => core.info(m));
    }
    if (report.settings) {
      report.settings.command = reproduceCommand(
        { ...inputs, budgets: inputs.budgets },
        report.base.sha,
        report.head.sha,
      );
    }
  } catch (e) {
    const known = e instanceof Error && !['Error', 'TypeError', 'RangeError'].includes(e.name);
    report = errorReport(
      known ? (e as Error).message : `unexpected error: ${String((e as Error).message ?? e)}`,
      target.base,
      target.head,
    );
  } finally {
    uninstall();
  }
  const tampered = await restoreCommandFiles();
  if (tampered.length > 0) {
    report = {
      ...report,
      verdict: 'error',
      error: `The benchmark or the setup command wrote to the workflow command file(s) ${tampered.join(', ')}, which would change later steps of the job; memdelta undid it. Pull request code must not touch them.`,
    };
  }
  // The benchmark may have found the token (actions/checkout keeps it in the git config) and printed it.
  report = redact(report, secretValues(io.env, inputs.githubToken));
  await writeAtomic(reportPath, JSON.stringify(report, null, 2) + '\n');
  const top = (await git(['rev-parse', '--show-toplevel'])).trim();
  const prefix = relative(workspace, top).split(sep).join('/');
  return publish(inputs, io, {
    report,
    reportPath,
    pull: target.pull,
    gate: true,
    commentAllowed: inputs.mode === 'run',
    annotatePrefix: prefix.startsWith('..') ? undefined : prefix,
  });
}

/** Reads a file with a size cap: the downloaded report is untrusted and could be enormous. */
async function readCapped(path: string): Promise<string> {
  let h;
  try {
    h = await open(path, 'r');
  } catch (e) {
    throw new ActionError(
      `Cannot read the compare report ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): download the measuring run's artifact first (see docs/fork-prs.md).`,
    );
  }
  try {
    const st = await h.stat();
    if (!st.isFile()) throw new ActionError(`The compare report ${path} is not a regular file.`);
    if (st.size > MAX_COMPARE_REPORT_BYTES)
      throw new ActionError(`The compare report ${path} is over ${MAX_COMPARE_REPORT_BYTES} bytes.`);
    return await h.readFile('utf8');
  } finally {
    await h.close();
  }
}

/** Mode comment: publish a report measured by a pull_request workflow, resolved to its PR by GitHub's data. */
async function commentOnly(inputs: ActionInputs, io: ActionIo): Promise<string | undefined> {
  const workspace = io.env['GITHUB_WORKSPACE'] || process.cwd();
  const event = await readEvent(io.env);
  const octokit = makeClient(inputs, io.env);
  const where = repoOf(io.env);
  const pull = await resolveWorkflowRunPull(event, octokit, where);
  const reportPath = resolve(workspace, inputs.reportFile);
  const report = redact(
    parseCompareReport(await readCapped(reportPath)),
    secretValues(io.env, inputs.githubToken),
  );
  // Links point at this repository on this GitHub, whatever the report says.
  const url = repositoryUrl(io.env);
  if (report.settings) {
    if (url) report.settings.repositoryUrl = url;
    else delete report.settings.repositoryUrl;
  }
  core.info(
    `memdelta: publishing the report of run ${pull.runId} to pull request #${pull.number} (head ${pull.headSha.slice(0, 12)}).`,
  );
  return publish(inputs, io, {
    report,
    reportPath,
    pull,
    gate: false,
    commentAllowed: true,
    // The report names files of code this workflow never checked out; annotations belong to the measuring run.
    annotatePrefix: undefined,
  });
}

/** Most partial reports read in mode aggregate (one per shard; shards are at most 256). */
const MAX_PARTIAL_REPORTS = 1000;

/** The `.json` files in `dir` and one folder down (download-artifact puts each artifact in its own folder). */
async function partialReportFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (at: string, depth: number) => {
    let entries;
    try {
      entries = await readdir(at, { withFileTypes: true });
    } catch (e) {
      if (depth > 0) return;
      throw new ActionError(
        `Input "reports": cannot read the folder ${at} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); download the shards' report artifacts into it first (see docs/sharding.md).`,
      );
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      // Symbolic links are not followed: the folder holds downloaded, untrusted files.
      if (e.isFile() && e.name.endsWith('.json')) files.push(join(at, e.name));
      else if (e.isDirectory() && depth === 0) await walk(join(at, e.name), 1);
      if (files.length > MAX_PARTIAL_REPORTS)
        throw new ActionError(`Input "reports": over ${MAX_PARTIAL_REPORTS} report files in ${dir}.`);
    }
  };
  await walk(dir, 0);
  return files;
}

/**
 * Mode aggregate: merges the partial reports of a sharded run into one report and publishes it as one comment and
 * one summary. Each partial report is untrusted data, validated before it is merged. On a pull_request event the
 * step gates like mode run; on workflow_run (the fork-PR pattern) it only publishes, like mode comment.
 */
async function aggregateAndPublish(inputs: ActionInputs, io: ActionIo): Promise<string | undefined> {
  const workspace = io.env['GITHUB_WORKSPACE'] || process.cwd();
  const event = await readEvent(io.env);
  const dir = resolve(workspace, inputs.reports);
  const files = await partialReportFiles(dir);
  if (files.length === 0) {
    throw new ActionError(
      `Input "reports": no .json report in ${inputs.reports}; download the shards' report artifacts into it first (see docs/sharding.md).`,
    );
  }
  const parts = [];
  for (const file of files) {
    const name = relative(workspace, file).split(sep).join('/');
    try {
      parts.push({ name, report: parseCompareReport(await readCapped(file)) });
    } catch (e) {
      throw new ActionError(`${name}: ${(e as Error).message}`);
    }
  }
  let merged: CompareReport;
  try {
    merged = aggregateReports(parts);
  } catch (e) {
    if (e instanceof ShardMergeError)
      throw new ActionError(`Cannot aggregate the reports in ${inputs.reports}: ${e.message}`);
    throw e;
  }
  const report = redact(merged, secretValues(io.env, inputs.githubToken));
  const url = repositoryUrl(io.env);
  if (report.settings) {
    if (url) report.settings.repositoryUrl = url;
    else delete report.settings.repositoryUrl;
  }
  core.info(
    `memdelta: aggregated ${parts.length} partial report(s), ${report.scenarios.length} scenario(s).`,
  );
  let pull: PullRequestRef | undefined;
  let trusted = false;
  if (event.name === 'workflow_run') {
    pull = await resolveWorkflowRunPull(event, makeClient(inputs, io.env), repoOf(io.env));
  } else if (event.name === 'pull_request') {
    pull = pullFromPayload(event.payload);
    trusted = true;
  } else {
    trusted = true;
  }
  const reportPath = join(scratchDir(io.env), 'memdelta-report.json');
  await mkdir(dirname(reportPath), { recursive: true });
  await writeAtomic(reportPath, JSON.stringify(report, null, 2) + '\n');
  const prefix = inputs.workingDirectory === '.' ? '' : inputs.workingDirectory.replace(/\/+$/, '');
  return publish(inputs, io, {
    report,
    reportPath,
    pull,
    gate: trusted,
    commentAllowed: true,
    annotatePrefix: trusted ? prefix : undefined,
  });
}

/**
 * Runs the action. Returns normally when the step passes; throws with an actionable message when it must fail
 * (after publishing whatever could be published). The entry turns the throw into `core.setFailed`.
 */
export async function runAction(io: ActionIo): Promise<void> {
  const inputs = readInputs();
  // The runner masks these in the log from now on; redact() keeps them out of everything published.
  for (const secret of secretValues(io.env, inputs.githubToken)) core.setSecret(secret);
  const failure =
    inputs.mode === 'comment'
      ? await commentOnly(inputs, io)
      : inputs.mode === 'aggregate'
        ? await aggregateAndPublish(inputs, io)
        : await measureAndPublish(inputs, io);
  if (failure) throw new ActionError(failure);
}
