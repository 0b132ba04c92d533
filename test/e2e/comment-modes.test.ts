/**
 * The `comment` input end to end: the release bundle (dist/index.js, built by `npm run build`) runs as a child
 * process, as the runner runs it, on pull_request events against a real git repository and real python3
 * benchmarks, with the loopback GitHub API checking every request against GitHub's OpenAPI description.
 *
 * One pull request moves between heads that change nothing, grow memory a little (under every budget) and keep a
 * 3 MB buffer (over the retained budget), and each mode is checked for what it does to the sticky comment, while the
 * job summary, the outputs and the exit code stay the same in every mode.
 */
import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { markerFor } from '../../src/action/comment.js';
import { ACTION, pullPayload, runAction, contextFor } from '../support/action.js';
import { makeRepo, makeTempDir, type TestRepo } from '../support/git-repo.js';
import { ACTIONS_BOT, GitHubServer } from '../support/github-server.js';

const CREATE = 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments';
const UPDATE = 'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}';
const DELETE = 'DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}';
const LIST = 'GET /repos/{owner}/{repo}/issues/{issue_number}/comments';
const PR = 7;
const MARKER = markerFor('default');

// A 2 MB peak on base, so the small growth below stays under the default "peak: +5%" budget.
const BENCH = 'KEPT = []\n\n\ndef work():\n    buf = bytearray(2_000_000)\n    return len(buf)\n\n\nwork()\n';
const keeping = (bytes: string) =>
  BENCH.replace('    buf =', `    KEPT.append(bytearray(${bytes}))\n    buf =`);

/** The pull request's possible heads, all branched from the same base commit. */
type Head = 'unchanged' | 'small' | 'regressed';

let repo: TestRepo;
let server: GitHubServer;
let tmp: string;
let baseSha: string;
const heads = {} as Record<Head, string>;

interface RunResult {
  code: number | null;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
}

/**
 * Checks out `head`, makes it the pull request's head on the server, and runs the bundle on a pull_request
 * event with `comment` set to `mode`.
 */
async function runMode(mode: string, head: Head, inputs: Record<string, string> = {}): Promise<RunResult> {
  const sha = heads[head];
  await repo.git('checkout', '--quiet', '--detach', sha);
  const pull = server.pulls.get(PR);
  if (pull) pull.headSha = sha;
  const ctx = contextFor(server, repo.dir, sha, tmp);
  const r = await runAction(
    ctx,
    'pull_request',
    pullPayload(ctx, PR, sha, baseSha),
    { comment: mode, cache: 'true', ...inputs },
    // Shared by every run: base is the same commit each time, so its report is measured once and reused.
    { env: { RUNNER_TEMP: join(tmp, 'runner-temp') } },
  );
  return { code: r.code, stdout: r.stdout + r.stderr, outputs: r.outputs, summary: r.summary };
}

/** What every run publishes whatever the comment mode: outputs, the job summary, and the exit code. */
function expectPublished(r: RunResult, head: Head): void {
  const verdict = head === 'regressed' ? 'fail' : 'pass';
  expect(r.code, r.stdout).toBe(head === 'regressed' ? 1 : 0);
  expect(r.outputs['verdict']).toBe(verdict);
  expect(r.summary).toContain('bench.py');
  expect(r.stdout).toContain(`memdelta: verdict ${verdict}`);
  if (head === 'regressed') {
    expect(r.stdout).toMatch(/::error::memdelta: over budget \(.*bench\.py: retained: \+1MiB/);
    expect(r.summary).toContain('KEPT.append(bytearray(3_000_000))');
    expect(Number(r.outputs['retained-delta'])).toBeGreaterThan(2_900_000);
  } else {
    expect(r.stdout).not.toContain('::error::');
  }
  if (head === 'small') {
    expect(r.summary).toContain('KEPT.append(bytearray(60_000))');
    expect(Number(r.outputs['retained-delta'])).toBeGreaterThan(50_000);
  }
  if (head === 'unchanged') {
    expect(r.summary).not.toContain('KEPT.append');
    expect(Math.abs(Number(r.outputs['retained-delta']))).toBeLessThan(8 * 1024);
  }
}

/** The single sticky comment on the pull request, checked to be ours. */
function theComment() {
  const comments = server.commentsOn(PR);
  expect(comments).toHaveLength(1);
  const [comment] = comments;
  expect(comment?.user.login).toBe(ACTIONS_BOT.login);
  expect(comment?.body.startsWith(MARKER)).toBe(true);
  return comment!;
}

function commentUrl(id: number): string {
  return `${server.webUrl}/${server.owner}/${server.repo}/pull/${PR}#issuecomment-${id}`;
}

beforeAll(async () => {
  await access(ACTION).catch(() => {
    throw new Error(`${ACTION} is missing: run \`npm run build\` first.`);
  });
  tmp = await makeTempDir('memdelta-comment-modes-');
  repo = await makeRepo([
    { files: { 'bench.py': BENCH }, message: 'base' },
    { branch: 'unchanged', from: 0, files: { 'README.md': 'docs only\n' }, message: 'docs only' },
    { branch: 'small', from: 0, files: { 'bench.py': keeping('60_000') }, message: 'keep 60 kB' },
    { branch: 'regressed', from: 0, files: { 'bench.py': keeping('3_000_000') }, message: 'keep 3 MB' },
  ]);
  baseSha = repo.shas[0] as string;
  heads.unchanged = repo.shas[1] as string;
  heads.small = repo.shas[2] as string;
  heads.regressed = repo.shas[3] as string;
});

afterAll(async () => {
  await repo?.remove();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  server = new GitHubServer();
  await server.start();
  server.addPull({ number: PR, headSha: heads.unchanged, baseSha });
  return async () => {
    expect(server.violations).toEqual([]);
    await server.stop();
  };
});

describe('comment: always', () => {
  it('comments on an unchanged head, then updates that one comment for a regression and back', async () => {
    const quiet = await runMode('always', 'unchanged');
    expectPublished(quiet, 'unchanged');
    const first = theComment();
    expect(first.body).toContain(`sha="${heads.unchanged}"`);
    expect(first.body).not.toContain('KEPT.append');
    expect(quiet.outputs['comment-url']).toBe(commentUrl(first.id));
    expect(quiet.stdout).toContain('memdelta: comment created');

    const regressed = await runMode('always', 'regressed');
    expectPublished(regressed, 'regressed');
    const updated = theComment();
    expect(updated.id).toBe(first.id);
    expect(updated.body).toContain(`sha="${heads.regressed}"`);
    expect(updated.body).toContain('KEPT.append(bytearray(3_000_000))');
    expect(regressed.outputs['comment-url']).toBe(commentUrl(first.id));
    expect(regressed.stdout).toContain('memdelta: comment updated');

    const fixed = await runMode('always', 'unchanged');
    expectPublished(fixed, 'unchanged');
    const back = theComment();
    expect(back.id).toBe(first.id);
    expect(back.body).not.toContain('KEPT.append');
    expect(server.count(CREATE)).toBe(1);
    expect(server.count(UPDATE)).toBe(2);
    expect(server.count(DELETE)).toBe(0);
  });
});

describe('comment: on-change', () => {
  it('stays silent while nothing changes, comments on any change, and updates its comment once the change is gone', async () => {
    const quiet = await runMode('on-change', 'unchanged');
    expectPublished(quiet, 'unchanged');
    expect(server.commentsOn(PR)).toHaveLength(0);
    expect(server.count(CREATE) + server.count(UPDATE)).toBe(0);
    expect(quiet.outputs['comment-url']).toBe('');
    expect(quiet.stdout).toContain('memdelta: no comment (comment: on-change, nothing to report).');

    // Growth under every budget is still a change: it gets a comment although the verdict passes.
    const small = await runMode('on-change', 'small');
    expectPublished(small, 'small');
    const first = theComment();
    expect(first.body).toContain('KEPT.append(bytearray(60_000))');
    expect(small.outputs['comment-url']).toBe(commentUrl(first.id));

    const regressed = await runMode('on-change', 'regressed');
    expectPublished(regressed, 'regressed');
    expect(theComment().id).toBe(first.id);
    expect(theComment().body).toContain('KEPT.append(bytearray(3_000_000))');

    // Nothing to say now, but the old comment must not keep showing the regression: it is updated, not left.
    const fixed = await runMode('on-change', 'unchanged');
    expectPublished(fixed, 'unchanged');
    const back = theComment();
    expect(back.id).toBe(first.id);
    expect(back.body).toContain(`sha="${heads.unchanged}"`);
    expect(back.body).not.toContain('KEPT.append');
    expect(fixed.outputs['comment-url']).toBe(commentUrl(first.id));
    expect(server.count(CREATE)).toBe(1);
    expect(server.count(UPDATE)).toBe(2);
    expect(server.count(DELETE)).toBe(0);
  });
});

describe('comment: on-change with a quoted marker', () => {
  it("does not take a reviewer's comment that quotes the marker for its own", async () => {
    const quote = server.addComment({
      issueNumber: PR,
      body: `${MARKER}\n> the old memdelta report said something`,
      user: { login: 'reviewer', id: 4242, type: 'User' },
    });
    const quiet = await runMode('on-change', 'unchanged');
    expectPublished(quiet, 'unchanged');
    expect(server.count(CREATE) + server.count(UPDATE)).toBe(0);
    expect(server.commentsOn(PR).map((c) => [c.id, c.body])).toEqual([[quote.id, quote.body]]);
    expect(quiet.stdout).toContain('memdelta: no comment (comment: on-change, nothing to report).');
  });
});

describe('comment: on-regression', () => {
  it('stays silent for no change and for growth under budget, comments on a regression, and clears it after', async () => {
    const quiet = await runMode('on-regression', 'unchanged');
    expectPublished(quiet, 'unchanged');
    const small = await runMode('on-regression', 'small');
    expectPublished(small, 'small');
    expect(server.commentsOn(PR)).toHaveLength(0);
    expect(server.count(CREATE) + server.count(UPDATE)).toBe(0);
    // It looked for an earlier comment to correct, found none, and wrote nothing.
    expect(server.count(LIST)).toBeGreaterThanOrEqual(2);
    expect(small.outputs['comment-url']).toBe('');
    expect(small.stdout).toContain('memdelta: no comment (comment: on-regression, nothing to report).');

    const regressed = await runMode('on-regression', 'regressed');
    expectPublished(regressed, 'regressed');
    const first = theComment();
    expect(first.body).toContain(`sha="${heads.regressed}"`);
    expect(first.body).toContain('KEPT.append(bytearray(3_000_000))');
    expect(regressed.outputs['comment-url']).toBe(commentUrl(first.id));

    const again = await runMode('on-regression', 'regressed');
    expectPublished(again, 'regressed');
    expect(theComment().id).toBe(first.id);

    const fixed = await runMode('on-regression', 'small');
    expectPublished(fixed, 'small');
    const back = theComment();
    expect(back.id).toBe(first.id);
    expect(back.body).toContain(`sha="${heads.small}"`);
    expect(back.body).not.toContain('KEPT.append(bytearray(3_000_000))');
    expect(server.count(CREATE)).toBe(1);
    expect(server.count(UPDATE)).toBe(2);
    expect(server.count(DELETE)).toBe(0);
  });
});

describe('comment: never', () => {
  it('never calls the comments API and leaves an earlier sticky comment as it was', async () => {
    const earlier = server.addComment({
      issueNumber: PR,
      body: `${MARKER}\n<!-- memdelta:run nonce="earlier" -->\nan earlier result`,
      user: ACTIONS_BOT,
    });
    const regressed = await runMode('never', 'regressed');
    expectPublished(regressed, 'regressed');
    const quiet = await runMode('never', 'unchanged');
    expectPublished(quiet, 'unchanged');
    for (const r of [regressed, quiet]) expect(r.outputs['comment-url']).toBe('');
    expect(server.requests).toEqual([]);
    expect(server.commentsOn(PR).map((c) => [c.id, c.body])).toEqual([[earlier.id, earlier.body]]);
  });
});

describe('comment: an unknown mode', () => {
  it('fails naming the input and its allowed values, before measuring or calling GitHub', async () => {
    const r = await runMode('off', 'unchanged');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      '::error::Input "comment" is "off"; use one of "always", "on-change", "on-regression", "never".',
    );
    expect(r.summary).toBe('');
    expect(server.requests).toEqual([]);
  });
});
