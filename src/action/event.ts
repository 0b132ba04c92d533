/**
 * The workflow event → which commits to compare, and the pull request to publish to.
 *
 * - `pull_request`: head is the checked-out commit. By default actions/checkout checks out the test merge commit
 *   (GITHUB_SHA, `refs/pull/N/merge`), whose first parent is the base branch tip: base = HEAD^1, exactly the code
 *   the pull request would merge into. When the workflow checks out the PR head itself (HEAD is the PR's head SHA,
 *   or not a merge commit), base = merge-base(HEAD, pull_request.base.sha): what the PR branched from, so changes
 *   that landed on the base branch since are not charged to the PR. `fetch-depth: 2` suffices for the merge commit;
 *   a missing commit is fetched from origin by the engine.
 * - `push`: base = `before` (a branch's first push has no `before`: set base-ref).
 * - `merge_group`: base = the group's `base_sha`.
 * - `workflow_dispatch` (and `schedule`): base = the `base-ref` input.
 * - `pull_request_target` runs with the base repository's secrets and a write token; checking out the PR's code
 *   there lets the PR run code with them. That is refused unless `allow-untrusted-checkout: true`.
 * - `workflow_run` (mode `comment` only): the pull request is resolved from the event's head repository and head SHA,
 *   never from the report file.
 *
 * `base-ref`, when set, overrides the base for every event.
 */
import { readFile } from 'node:fs/promises';
import type { GitHubClient } from './octokit.js';
import type { Git } from '../run/git.js';
import { mergeBase, resolveCommit } from '../run/worktree.js';

/** GitHub's guidance on pull_request_target and untrusted checkouts. */
export const PWN_REQUEST_GUIDANCE =
  'https://securitylab.github.com/resources/github-actions-preventing-pwn-requests/';

const ZERO_SHA = /^0+$/;
const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/** The event as the runner describes it. */
export interface ActionEvent {
  /** `GITHUB_EVENT_NAME`. */
  name: string;
  /** The parsed `GITHUB_EVENT_PATH` file. */
  payload: Record<string, unknown>;
  /** `GITHUB_SHA`. */
  sha: string;
  /** `GITHUB_REPOSITORY`, `owner/name`. */
  repository: string;
}

/** The pull request a run publishes to. */
export interface PullRequestRef {
  number: number;
  /** The PR head commit (not the merge commit). */
  headSha: string;
  baseSha: string;
  labels: string[];
}

/** What to compare. */
export interface CompareTarget {
  /** A ref or SHA the engine resolves (and fetches when missing). */
  base: string;
  /** The full SHA of the checked-out commit. */
  head: string;
  /** How the base was chosen, for the log. */
  why: string;
  pull?: PullRequestRef;
  /** Set when an untrusted checkout was allowed: the caller warns loudly. */
  untrustedWarning?: string;
}

/** An event memdelta cannot (or must not) handle; the message says what to do instead. */
export class EventError extends Error {
  override readonly name = 'EventError';
}

/** Reads the event from the runner's environment. */
export async function readEvent(env: Record<string, string | undefined>): Promise<ActionEvent> {
  const name = env['GITHUB_EVENT_NAME'] ?? '';
  const path = env['GITHUB_EVENT_PATH'] ?? '';
  if (name === '' || path === '') {
    throw new EventError(
      'GITHUB_EVENT_NAME and GITHUB_EVENT_PATH are not set: memdelta runs as a step of a GitHub workflow (use the CLI elsewhere).',
    );
  }
  let payload: unknown;
  try {
    payload = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new EventError(`Cannot read the event payload ${path}: ${(e as Error).message}`);
  }
  if (typeof payload !== 'object' || payload === null)
    throw new EventError(`The event payload ${path} is not an object.`);
  return {
    name,
    payload: payload as Record<string, unknown>,
    sha: env['GITHUB_SHA'] ?? '',
    repository: env['GITHUB_REPOSITORY'] ?? '',
  };
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** The pull request in a pull_request or pull_request_target payload. */
export function pullFromPayload(payload: Record<string, unknown>): PullRequestRef {
  const pr = obj(payload['pull_request']);
  const number = pr['number'];
  const headSha = str(obj(pr['head'])['sha']);
  const baseSha = str(obj(pr['base'])['sha']);
  if (
    typeof number !== 'number' ||
    !Number.isInteger(number) ||
    number <= 0 ||
    !SHA.test(headSha) ||
    !SHA.test(baseSha)
  ) {
    throw new EventError('The event payload has no usable pull_request (number, head.sha, base.sha).');
  }
  const labels = Array.isArray(pr['labels'])
    ? pr['labels'].map((l) => str(obj(l)['name'])).filter(Boolean)
    : [];
  return { number, headSha, baseSha, labels };
}

/** The checked-out commit and its parents (read from the commit object, so a depth-1 clone still knows them). */
async function headCommit(git: Git): Promise<{ sha: string; parents: string[] }> {
  const sha = (await git(['rev-parse', '--verify', 'HEAD^{commit}'])).trim();
  const raw = await git(['cat-file', 'commit', sha]);
  const parents: string[] = [];
  for (const line of raw.split('\n')) {
    if (line === '') break;
    const m = /^parent ([0-9a-f]+)$/.exec(line);
    if (m?.[1]) parents.push(m[1]);
  }
  return { sha, parents };
}

async function pullTarget(
  git: Git,
  pull: PullRequestRef,
  baseRef: string | undefined,
): Promise<CompareTarget> {
  const head = await headCommit(git);
  if (baseRef !== undefined)
    return { base: baseRef, head: head.sha, why: `the base-ref input (${baseRef})`, pull };
  const isMerge = head.parents.length >= 2 && head.sha !== pull.headSha;
  if (isMerge) {
    return {
      base: head.parents[0] as string,
      head: head.sha,
      why: `the first parent of the test merge commit ${head.sha.slice(0, 12)}, the base branch tip`,
      pull,
    };
  }
  // The PR head (or some other commit) is checked out: compare with what it branched from.
  const baseTip = await resolveCommit(git, pull.baseSha);
  const base = await mergeBase(git, head.sha, baseTip);
  return {
    base,
    head: head.sha,
    why: `the merge-base of ${head.sha.slice(0, 12)} with the base branch tip ${pull.baseSha.slice(0, 12)}`,
    pull,
  };
}

/** Whether the checkout holds the pull request's code: its head, or a merge commit that includes it. */
async function checksOutPullCode(git: Git, pull: PullRequestRef): Promise<boolean> {
  const head = await headCommit(git);
  return head.sha === pull.headSha || head.parents.includes(pull.headSha);
}

/**
 * Decides base and head for a compare from the event and the checkout.
 * @throws EventError for an unsupported event, a missing base, or an untrusted checkout
 */
export async function resolveCompareTarget(
  event: ActionEvent,
  git: Git,
  options: { baseRef?: string | undefined; allowUntrustedCheckout: boolean },
): Promise<CompareTarget> {
  const baseRef = options.baseRef;
  switch (event.name) {
    case 'pull_request':
      return pullTarget(git, pullFromPayload(event.payload), baseRef);
    case 'pull_request_target': {
      const pull = pullFromPayload(event.payload);
      const untrusted = await checksOutPullCode(git, pull);
      if (!untrusted) {
        throw new EventError(
          'pull_request_target checks out the base branch, not the pull request, so there is nothing to compare. ' +
            'Run memdelta on pull_request (for comments on pull requests from forks, use mode: measure and mode: comment, see docs/fork-prs.md).',
        );
      }
      if (!options.allowUntrustedCheckout) {
        throw new EventError(
          "Refusing to run: this pull_request_target workflow checked out the pull request's code, which would run it with the " +
            "base repository's token and secrets. Run memdelta on pull_request instead, and publish comments for fork pull requests " +
            `with mode: measure plus mode: comment (docs/fork-prs.md). See ${PWN_REQUEST_GUIDANCE}. ` +
            'If every pull request is trusted, set allow-untrusted-checkout: true.',
        );
      }
      const target = await pullTarget(git, pull, baseRef);
      target.untrustedWarning =
        'allow-untrusted-checkout is true: memdelta is running pull request code in a pull_request_target workflow, with the ' +
        `base repository's token and secrets within its reach. See ${PWN_REQUEST_GUIDANCE}`;
      return target;
    }
    case 'push': {
      const head = (await headCommit(git)).sha;
      if (baseRef !== undefined) return { base: baseRef, head, why: `the base-ref input (${baseRef})` };
      const before = str(event.payload['before']);
      if (before === '' || ZERO_SHA.test(before)) {
        throw new EventError(
          'This push created the branch, so it has no previous commit ("before" is all zeros) to compare with. Set the base-ref input (for example base-ref: main).',
        );
      }
      if (!SHA.test(before))
        throw new EventError(
          `The push event's "before" (${JSON.stringify(before.slice(0, 80))}) is not a commit SHA.`,
        );
      return { base: before, head, why: `the commit before the push (${before.slice(0, 12)})` };
    }
    case 'merge_group': {
      const head = (await headCommit(git)).sha;
      if (baseRef !== undefined) return { base: baseRef, head, why: `the base-ref input (${baseRef})` };
      const baseSha = str(obj(event.payload['merge_group'])['base_sha']);
      if (!SHA.test(baseSha)) throw new EventError('The merge_group event has no base_sha.');
      return { base: baseSha, head, why: `the merge group's base (${baseSha.slice(0, 12)})` };
    }
    case 'workflow_dispatch':
    case 'schedule': {
      const head = (await headCommit(git)).sha;
      if (baseRef === undefined) {
        throw new EventError(
          `On ${event.name} there is no pull request to take a base from: set the base-ref input (for example base-ref: main).`,
        );
      }
      return { base: baseRef, head, why: `the base-ref input (${baseRef})` };
    }
    case 'workflow_run':
      throw new EventError(
        'On workflow_run memdelta only publishes a report measured elsewhere: set mode: comment (see docs/fork-prs.md).',
      );
    default:
      throw new EventError(
        `memdelta does not support the ${JSON.stringify(event.name)} event. Use pull_request, push, merge_group or workflow_dispatch (with base-ref), or workflow_run with mode: comment.`,
      );
  }
}

/** The pull request a `workflow_run` event belongs to, resolved from GitHub's data only. */
export interface WorkflowRunPull extends PullRequestRef {
  /** The run that measured it. */
  runId: number;
}

/**
 * Finds the pull request a finished `workflow_run` measured: the open pull request whose head is the run's head SHA
 * in the run's head repository. Same-repository pull requests are listed in the event; for forks GitHub leaves that
 * list empty, so the commit's pull requests are asked for. A number written in the downloaded report is never used:
 * the measuring workflow ran the pull request's code and could have written anything.
 * @throws EventError when no single pull request matches
 */
export async function resolveWorkflowRunPull(
  event: ActionEvent,
  octokit: GitHubClient,
  where: { owner: string; repo: string },
): Promise<WorkflowRunPull> {
  if (event.name !== 'workflow_run') {
    throw new EventError(
      `mode: comment publishes a report from a finished workflow run: trigger it with on: workflow_run, not ${event.name}.`,
    );
  }
  const run = obj(event.payload['workflow_run']);
  const runId = run['id'];
  const headSha = str(run['head_sha']);
  const headRepo = str(obj(run['head_repository'])['full_name']);
  if (typeof runId !== 'number' || !SHA.test(headSha)) {
    throw new EventError('The workflow_run event has no run id or head_sha.');
  }
  if (str(run['event']) !== 'pull_request') {
    throw new EventError(
      `The workflow run was triggered by ${JSON.stringify(str(run['event']))}, not pull_request: there is no pull request to comment on.`,
    );
  }
  const listed = (Array.isArray(run['pull_requests']) ? run['pull_requests'] : [])
    .map(obj)
    .filter((p) => str(obj(p['head'])['sha']) === headSha && typeof p['number'] === 'number');
  let number: number | undefined;
  if (listed.length === 1) number = listed[0]?.['number'] as number;
  if (number === undefined) {
    const { data } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({
      ...where,
      commit_sha: headSha,
      per_page: 100,
    });
    const matches = data.filter(
      (p) =>
        p.state === 'open' &&
        p.head.sha === headSha &&
        (headRepo === '' || p.head.repo?.full_name?.toLowerCase() === headRepo.toLowerCase()),
    );
    if (matches.length !== 1) {
      throw new EventError(
        matches.length === 0
          ? `No open pull request has head ${headSha.slice(0, 12)}${headRepo ? ` from ${headRepo}` : ''}: nothing to comment on (the pull request may have been closed or updated since).`
          : `${matches.length} open pull requests have head ${headSha.slice(0, 12)}; not guessing which one to comment on.`,
      );
    }
    number = matches[0]?.number as number;
  }
  // Labels and the base come from the pull request itself, now.
  const { data: pr } = await octokit.rest.pulls.get({ ...where, pull_number: number });
  return {
    runId,
    number,
    headSha,
    baseSha: pr.base.sha,
    labels: pr.labels.map((l) => l.name ?? '').filter(Boolean),
  };
}
