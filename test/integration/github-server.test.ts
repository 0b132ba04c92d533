import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOctokit, type GitHubClient } from '../../src/action/octokit.js';
import { ACTIONS_BOT, GitHubServer, PERMISSION_MESSAGE } from '../support/github-server.js';

const TOKEN = 'ghs_test_token';
const LIST = 'GET /repos/{owner}/{repo}/issues/{issue_number}/comments';
const CREATE = 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments';

let server: GitHubServer;

function client(overrides: Partial<Parameters<typeof createOctokit>[0]> = {}): GitHubClient {
  return createOctokit({
    token: TOKEN,
    baseUrl: server.url,
    retry: { retries: 3, baseDelayMs: 5 },
    rateLimit: { secondMs: 20, writeSpacingMs: 0 },
    ...overrides,
  });
}

function errorOf(promise: Promise<unknown>): Promise<{ status?: number; message: string }> {
  return promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (error: unknown) => error as { status?: number; message: string },
  );
}

const repo = { owner: 'octo-org', repo: 'octo-repo' };

beforeEach(async () => {
  server = new GitHubServer();
  await server.start();
  server.addPull({ number: 7, labels: ['memory'] });
});

afterEach(async () => {
  await server.stop();
});

describe('loopback GitHub server', () => {
  it('rejects a request body that does not fit the OpenAPI description, and records the violation', async () => {
    const octokit = client();
    const error = await errorOf(
      // A string route bypasses Octokit's typed parameters, as a typo in untyped code would.
      octokit.request('POST /repos/octo-org/octo-repo/issues/7/comments' as string, { bodyx: 1 }),
    );
    expect(error.status).toBe(422);
    expect(server.violations).toHaveLength(1);
    expect(server.violations[0]?.errors.join('\n')).toMatch(/required property 'body'/);
    expect(server.violations[0]?.errors.join('\n')).toMatch(/bodyx is not accepted/);
    expect(server.commentsOn(7)).toHaveLength(0);
    // 422 is final: one request, no retries.
    expect(server.count(CREATE)).toBe(1);
  });

  it('rejects bad path and query parameters and paths outside the API', async () => {
    const octokit = client();
    expect(
      (await errorOf(octokit.request('GET /repos/octo-org/octo-repo/issues/seven/comments'))).status,
    ).toBe(422);
    expect(
      (await errorOf(octokit.request('GET /repos/octo-org/octo-repo/issues/7/comments?color=red'))).status,
    ).toBe(422);
    expect((await errorOf(octokit.request('GET /repos/octo-org/octo-repo/no-such-thing'))).status).toBe(404);
    expect(server.violations.map((v) => v.errors.join(' '))).toEqual([
      expect.stringMatching(/issue_number must be integer/),
      expect.stringMatching(/query parameter color is not accepted/),
      expect.stringMatching(/is not an operation of the GitHub REST API/),
    ]);
  });

  it('answers with bodies that fit the description and GitHub-shaped errors', async () => {
    server.addRun({ id: 99, headSha: 'c'.repeat(40), pullNumbers: [7] });
    server.addPull({ number: 8, headSha: 'c'.repeat(40) });
    server.addComment({ issueNumber: 7, body: 'hello', user: ACTIONS_BOT });
    const octokit = client();
    const pull = await octokit.rest.pulls.get({ ...repo, pull_number: 7 });
    expect(pull.data.head.sha).toBe('a'.repeat(40));
    expect(pull.data.labels.map((l) => l.name)).toEqual(['memory']);
    const labels = await octokit.rest.issues.listLabelsOnIssue({ ...repo, issue_number: 7 });
    expect(labels.data.map((l) => l.name)).toEqual(['memory']);
    const run = await octokit.rest.actions.getWorkflowRun({ ...repo, run_id: 99 });
    expect(run.data.pull_requests?.map((p) => p.number)).toEqual([7]);
    const byCommit = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({
      ...repo,
      commit_sha: 'c'.repeat(40),
    });
    expect(byCommit.data.map((p) => p.number)).toEqual([8]);
    const comments = await octokit.rest.issues.listComments({ ...repo, issue_number: 7 });
    expect(comments.data[0]?.user?.login).toBe('github-actions[bot]');
    // The stand-in validates its own 2xx responses against the description too.
    expect(server.violations).toEqual([]);

    const missing = await fetch(`${server.url}/repos/octo-org/octo-repo/pulls/404`, {
      headers: { authorization: `token ${TOKEN}` },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      message: 'Not Found',
      documentation_url: 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request',
      status: '404',
    });
  });

  it('pages with per_page (capped at 100) and Link headers', async () => {
    for (let i = 0; i < 250; i++) server.addComment({ issueNumber: 7, body: `c${i}`, user: ACTIONS_BOT });
    const page3 = await fetch(
      `${server.url}/repos/octo-org/octo-repo/issues/7/comments?per_page=100&page=3`,
      {
        headers: { authorization: `token ${TOKEN}` },
      },
    );
    const items = (await page3.json()) as { body: string }[];
    expect(items.map((c) => c.body)).toEqual(Array.from({ length: 50 }, (_, i) => `c${200 + i}`));
    expect(page3.headers.get('link')).toContain('page=2>; rel="prev"');
    expect(page3.headers.get('link')).toContain('page=1>; rel="first"');
    expect(page3.headers.get('link')).not.toContain('rel="next"');
    const capped = await fetch(`${server.url}/repos/octo-org/octo-repo/issues/7/comments?per_page=500`, {
      headers: { authorization: `token ${TOKEN}` },
    });
    expect(((await capped.json()) as unknown[]).length).toBe(100);
    expect(capped.headers.get('link')).toContain('page=3>; rel="last"');

    const all = await client().paginate(client().rest.issues.listComments, {
      ...repo,
      issue_number: 7,
      per_page: 100,
    });
    expect(all).toHaveLength(250);
  });

  it('tells installation tokens from user tokens on GET /user and refuses unknown tokens', async () => {
    server.tokens.set('ghp_alice', { user: { login: 'alice', id: 7, type: 'User' }, kind: 'user' });
    const installation = await errorOf(client().rest.users.getAuthenticated());
    expect(installation.status).toBe(403);
    expect(installation.message).toContain(PERMISSION_MESSAGE);
    const alice = await client({ token: 'ghp_alice' }).rest.users.getAuthenticated();
    expect(alice.data.login).toBe('alice');
    expect((await errorOf(client({ token: 'nope' }).rest.users.getAuthenticated())).status).toBe(401);
  });
});

describe('createOctokit against the loopback server', () => {
  it('takes the API URL from GITHUB_API_URL and refuses to guess a host', async () => {
    const saved = process.env['GITHUB_API_URL'];
    try {
      process.env['GITHUB_API_URL'] = server.url;
      const octokit = createOctokit({ token: TOKEN, rateLimit: { writeSpacingMs: 0 } });
      expect((await octokit.rest.pulls.get({ ...repo, pull_number: 7 })).status).toBe(200);
      delete process.env['GITHUB_API_URL'];
      expect(() => createOctokit({ token: TOKEN })).toThrow(/GITHUB_API_URL/);
    } finally {
      if (saved === undefined) delete process.env['GITHUB_API_URL'];
      else process.env['GITHUB_API_URL'] = saved;
    }
  });

  it('retries a 500/502/503 burst and a reset socket, then succeeds', async () => {
    server.inject(LIST, { kind: 'status', status: 500 });
    server.inject(LIST, { kind: 'status', status: 502 });
    server.inject(LIST, { kind: 'status', status: 503 });
    const listed = await client().rest.issues.listComments({ ...repo, issue_number: 7 });
    expect(listed.status).toBe(200);
    expect(server.requests.filter((r) => r.route === LIST).map((r) => r.status)).toEqual([
      500, 502, 503, 200,
    ]);

    server.inject(LIST, { kind: 'reset' }, 2);
    const again = await client().rest.issues.listComments({ ...repo, issue_number: 7 });
    expect(again.status).toBe(200);
    expect(server.requests.filter((r) => r.route === LIST).map((r) => r.status)).toEqual([
      500, 502, 503, 200, -1, -1, 200,
    ]);
  });

  it('aborts an attempt that hangs and retries it, and gives up on a server that never answers', async () => {
    server.inject(LIST, { kind: 'delay', ms: 3000 });
    const started = Date.now();
    const listed = await client({ requestTimeoutMs: 300 }).rest.issues.listComments({
      ...repo,
      issue_number: 7,
    });
    expect(listed.status).toBe(200);
    expect(server.count(LIST)).toBe(2);
    expect(Date.now() - started).toBeLessThan(2500);

    server.inject(LIST, { kind: 'delay', ms: 3000 }, 10);
    const error = await errorOf(
      client({ requestTimeoutMs: 200, retry: { retries: 2, baseDelayMs: 5 } }).rest.issues.listComments({
        ...repo,
        issue_number: 7,
      }),
    );
    expect(error.message).toMatch(/abort|timeout/i);
    expect(server.count(LIST)).toBe(5);
  });

  it('gives up after the configured number of retries', async () => {
    server.inject(LIST, { kind: 'status', status: 503 }, 10);
    const error = await errorOf(
      client({ retry: { retries: 2, baseDelayMs: 5 } }).rest.issues.listComments({
        ...repo,
        issue_number: 7,
      }),
    );
    expect(error.status).toBe(503);
    expect(server.count(LIST)).toBe(3);
  });

  it('never retries a permission 403, a 404 or a 422', async () => {
    const octokit = client();
    server.inject(CREATE, { kind: 'permission' });
    const forbidden = await errorOf(
      octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: 'x' }),
    );
    expect(forbidden.status).toBe(403);
    expect(forbidden.message).toContain(PERMISSION_MESSAGE);
    server.inject(CREATE, { kind: 'body-too-long' });
    const tooLong = await errorOf(octokit.rest.issues.createComment({ ...repo, issue_number: 7, body: 'x' }));
    expect(tooLong.status).toBe(422);
    expect(tooLong.message).toMatch(/Body is too long/);
    const missing = await errorOf(
      octokit.rest.issues.createComment({ ...repo, issue_number: 404, body: 'x' }),
    );
    expect(missing.status).toBe(404);
    expect(server.count(CREATE)).toBe(3);
    expect(server.commentsOn(7)).toHaveLength(0);
  });

  it('waits out a secondary rate limit (retry-after: 1, real seconds) and succeeds', async () => {
    server.inject(CREATE, { kind: 'secondary-rate-limit', retryAfter: 1 });
    const started = Date.now();
    const created = await client({
      rateLimit: { secondMs: 1000, writeSpacingMs: 0 },
    }).rest.issues.createComment({
      ...repo,
      issue_number: 7,
      body: 'x',
    });
    expect(created.status).toBe(201);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(server.requests.filter((r) => r.route === CREATE).map((r) => r.status)).toEqual([403, 201]);
    expect(server.commentsOn(7)).toHaveLength(1);
  });

  it('waits out a 429 secondary rate limit and gives up on one longer than the bound', async () => {
    server.inject(LIST, { kind: 'secondary-rate-limit', status: 429, retryAfter: 2 });
    const listed = await client().rest.issues.listComments({ ...repo, issue_number: 7 });
    expect(listed.status).toBe(200);
    expect(server.requests.map((r) => r.status)).toEqual([429, 200]);

    server.inject(LIST, { kind: 'secondary-rate-limit', retryAfter: 3600 });
    const warnings: string[] = [];
    const error = await errorOf(
      client({ log: { debug: () => undefined, warn: (m) => warnings.push(m) } }).rest.issues.listComments({
        ...repo,
        issue_number: 7,
      }),
    );
    expect(error.status).toBe(403);
    expect(server.count(LIST)).toBe(3);
    expect(warnings.join('\n')).toMatch(/not waiting 3600 s/);
  });

  it('waits for the primary rate limit to reset', async () => {
    server.inject(LIST, { kind: 'primary-rate-limit', resetInMs: 300 });
    const started = Date.now();
    const listed = await client({
      rateLimit: { secondMs: 1000, writeSpacingMs: 0 },
    }).rest.issues.listComments({
      ...repo,
      issue_number: 7,
    });
    expect(listed.status).toBe(200);
    const statuses = server.requests.map((r) => r.status);
    expect(statuses).toEqual([403, 200]);
    const first = server.requests[0];
    const last = server.requests[1];
    expect(first && last && last.at - first.at).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
