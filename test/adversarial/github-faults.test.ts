/**
 * The loopback GitHub API misbehaves while the action bundle publishes: reset sockets, slow answers, 5xx bursts,
 * a comment deleted between the list and the update, and "Body is too long". The action retries a bounded number
 * of times, recreates a vanished comment, shrinks a rejected body, never leaves two comments, and its exit status
 * follows the verdict. Interrupted mid-compare, it posts nothing.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACTIONS_BOT, GitHubServer } from '../support/github-server.js';
import { makeRepo, makeTempDir, type TestRepo } from '../support/git-repo.js';
import { pullPayload, runAction, type ActionContext, contextFor } from '../support/action.js';
import { worktreeFolders } from './support.js';

const PR = 7;
const LIST = 'GET /repos/{owner}/{repo}/issues/{issue_number}/comments';
const CREATE = 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments';
const UPDATE = 'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}';
const SLOW = `import os, tempfile, time
open(os.path.join(tempfile.gettempdir(), "started-%d" % os.getpid()), "w").close()
time.sleep(3600)
`;

let repo: TestRepo;
let server: GitHubServer;
let tmp: string;
let headSha: string;
let baseTip: string;
let mergeSha: string;

beforeAll(async () => {
  tmp = await makeTempDir('memdelta-adv-gh-');
  repo = await makeRepo([
    { files: { 'bench.py': 'KEEP = [bytearray(100_000)]\n', 'slow.py': 'KEEP = 1\n' }, message: 'base' },
    {
      branch: 'feature',
      files: { 'bench.py': 'KEEP = [bytearray(100_000), bytearray(3_000_000)]\n', 'slow.py': SLOW },
      message: 'keep 3 MB',
    },
    { branch: 'main', files: { 'README.md': 'docs\n' }, message: 'main moves on' },
  ]);
  headSha = repo.shas[1] as string;
  baseTip = repo.shas[2] as string;
  await repo.git('checkout', '--quiet', '--detach', baseTip);
  await repo.git('merge', '--quiet', '--no-ff', '-m', 'Merge feature', headSha);
  mergeSha = await repo.git('rev-parse', 'HEAD');
});

afterAll(async () => {
  await server?.stop();
  await repo?.remove();
  await rm(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  await server?.stop();
  server = new GitHubServer();
  await server.start();
  server.addPull({ number: PR, headSha, baseSha: baseTip });
});

function ctx(): ActionContext {
  return contextFor(server, repo.dir, mergeSha, tmp);
}

const publish = (inputs: Record<string, string> = {}) =>
  runAction(ctx(), 'pull_request', pullPayload(ctx(), PR, headSha, baseTip), inputs);

describe('GitHub faults while publishing', () => {
  it('survives a reset socket, a slow answer and a 502/503 burst: one comment, exit by the verdict', async () => {
    server.inject(LIST, { kind: 'reset' });
    server.inject(LIST, { kind: 'delay', ms: 1500 });
    server.inject(CREATE, { kind: 'status', status: 502 });
    server.inject(CREATE, { kind: 'status', status: 503 });
    const r = await publish();
    expect(r.code, r.stdout.slice(-3000)).toBe(1);
    expect(r.outputs['verdict']).toBe('fail');
    expect(server.commentsOn(PR)).toHaveLength(1);
    // A create is never retried blindly (it may have happened): the comment list is checked before each attempt.
    expect(server.count(CREATE)).toBe(3);
    expect(r.outputs['comment-url']).toContain('#issuecomment-');
    expect(server.violations).toEqual([]);
  });

  it('gives up after a bounded number of retries on a 503 storm, with one line saying why', async () => {
    server.inject(CREATE, { kind: 'status', status: 503 }, 100);
    const started = Date.now();
    const r = await publish();
    expect(r.code).toBe(1);
    expect(server.count(CREATE)).toBeLessThanOrEqual(3);
    expect(server.count()).toBeLessThan(20);
    expect(server.commentsOn(PR)).toHaveLength(0);
    expect(Date.now() - started).toBeLessThan(60_000);
    // The step fails for the verdict; the report is still in the log and the summary.
    expect(r.outputs['verdict']).toBe('fail');
    expect(r.summary).toContain('bench.py');
    expect(r.stdout).toMatch(/::group::memdelta report \(markdown\)/);
    expect(r.stdout).toMatch(/::warning::memdelta could not publish the pull request comment/);

    // With the accept label the verdict does not fail the step, and GitHub being down does not either.
    server.inject(CREATE, { kind: 'status', status: 503 }, 100);
    const accepted = await runAction(
      ctx(),
      'pull_request',
      pullPayload(ctx(), PR, headSha, baseTip, ['memdelta: accept increase']),
    );
    expect(accepted.code, accepted.stdout).toBe(0);
    expect(accepted.stdout).toMatch(/::warning::memdelta could not publish the pull request comment/);
    expect(server.commentsOn(PR)).toHaveLength(0);
  });

  it('recreates a comment deleted between the list and the update', async () => {
    const first = await publish();
    expect(first.code).toBe(1);
    const [existing] = server.commentsOn(PR);
    expect(existing).toBeDefined();
    server.inject(UPDATE, {
      kind: 'before',
      action: (s) => {
        s.comments.splice(s.comments.indexOf(existing as (typeof s.comments)[number]), 1);
      },
    });
    const second = await publish();
    expect(second.code).toBe(1);
    const now = server.commentsOn(PR);
    expect(now).toHaveLength(1);
    expect(now[0]?.id).not.toBe(existing?.id);
    expect(second.outputs['comment-url']).toContain(`#issuecomment-${now[0]?.id}`);
  });

  it('shrinks a body GitHub rejects as too long, still one comment', async () => {
    server.maxCommentLength = 2000;
    server.inject(CREATE, { kind: 'body-too-long' });
    const r = await publish();
    expect(r.code).toBe(1);
    const comments = server.commentsOn(PR);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body.length).toBeLessThanOrEqual(2000);
    expect(comments[0]?.user.login).toBe(ACTIONS_BOT.login);
    expect(server.count(CREATE)).toBeGreaterThanOrEqual(2);
  });
});

describe('SIGINT to the action mid-compare', () => {
  it('kills the benchmark, removes the worktrees, exits 130 and posts no comment', async () => {
    let pid = 0;
    const c = ctx();
    const running = runAction(
      c,
      'pull_request',
      pullPayload(c, PR, headSha, baseTip),
      { run: 'slow.py' },
      {
        onStart: (child) => {
          pid = child.pid ?? 0;
        },
      },
    );
    // The run folder is the newest run-* in tmp; wait for the head benchmark to start in its TMPDIR.
    let started: string[] = [];
    let runDir = '';
    for (let i = 0; i < 400 && started.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const runs = (await readdir(tmp)).filter((f) => f.startsWith('run-'));
      for (const d of runs) {
        const files = await readdir(join(tmp, d, 'tmp')).catch(() => [] as string[]);
        if (files.some((f) => f.startsWith('started-'))) {
          runDir = join(tmp, d);
          started = files.filter((f) => f.startsWith('started-'));
        }
      }
    }
    expect(started.length).toBeGreaterThan(0);
    process.kill(pid, 'SIGINT');
    const r = await running;
    expect(r.code, r.stdout.slice(-2000)).toBe(130);
    expect(server.count(CREATE)).toBe(0);
    expect(server.count(UPDATE)).toBe(0);
    for (const f of started) {
      const { existsSync } = await import('node:fs');
      expect(existsSync(`/proc/${f.slice('started-'.length)}`)).toBe(false);
    }
    expect(worktreeFolders(join(runDir, 'tmp'))).toEqual([]);
  });
});
