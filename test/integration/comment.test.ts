import { micromark } from 'micromark';
import { gfm, gfmHtml } from 'micromark-extension-gfm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CommentError,
  CommentPermissionError,
  markerFor,
  parseCommentMeta,
  upsertStickyComment,
  type StickyCommentOptions,
} from '../../src/action/comment.js';
import { createOctokit, type GitHubClient } from '../../src/action/octokit.js';
import { DEFAULT_TRUNCATION_NOTE, truncateBody } from '../../src/action/truncate.js';
import { ACTIONS_BOT, GitHubServer, type GitHubUser } from '../support/github-server.js';

const LIST = 'GET /repos/{owner}/{repo}/issues/{issue_number}/comments';
const CREATE = 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments';
const UPDATE = 'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}';
const DELETE = 'DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}';
const SHA_OLD = '1'.repeat(40);
const SHA_NEW = '2'.repeat(40);
const MALLORY: GitHubUser = { login: 'mallory', id: 666, type: 'User' };
const PR = 7;

let server: GitHubServer;
let octokit: GitHubClient;

function client(token = 'ghs_test_token'): GitHubClient {
  return createOctokit({
    token,
    baseUrl: server.url,
    retry: { retries: 3, baseDelayMs: 5 },
    rateLimit: { secondMs: 20, writeSpacingMs: 0 },
  });
}

function upsert(options: Partial<StickyCommentOptions> = {}, using = octokit) {
  return upsertStickyComment(using, {
    owner: 'octo-org',
    repo: 'octo-repo',
    issueNumber: PR,
    body: 'report',
    ...options,
  });
}

/** A body as memdelta writes it, for seeding earlier runs' comments. */
function written(key: string, body: string, sha?: string): string {
  return `${markerFor(key)}\n<!-- memdelta:run${sha ? ` sha="${sha}"` : ''} nonce="earlier-run" -->\n${body}`;
}

function statuses(route: string): number[] {
  return server.requests.filter((r) => r.route === route).map((r) => r.status);
}

beforeEach(async () => {
  server = new GitHubServer();
  await server.start();
  server.addPull({ number: PR, headSha: SHA_NEW });
  octokit = client();
});

afterEach(async () => {
  await server.stop();
  // Every request the comment code sent fit GitHub's description.
  expect(server.violations).toEqual([]);
});

describe('upsertStickyComment', () => {
  it('creates one marked comment, updates it on the next run, and keeps keys apart', async () => {
    const first = await upsert({ body: 'first' });
    expect(first.action).toBe('created');
    expect(first.author).toBe('github-actions[bot]');
    expect(server.commentsOn(PR)).toHaveLength(1);
    const stored = server.commentsOn(PR)[0];
    expect(stored?.body.startsWith(`${markerFor('default')}\n`)).toBe(true);
    expect(stored?.body.endsWith('\nfirst')).toBe(true);
    expect(first.url).toBe(`${server.webUrl}/octo-org/octo-repo/pull/7#issuecomment-${stored?.id}`);

    const second = await upsert({ body: 'second' });
    expect(second).toMatchObject({ action: 'updated', id: first.id });
    expect(server.commentsOn(PR)).toHaveLength(1);
    expect(server.commentsOn(PR)[0]?.body.endsWith('\nsecond')).toBe(true);

    const other = await upsert({ key: 'nightly', body: 'other' });
    expect(other.action).toBe('created');
    expect(other.id).not.toBe(first.id);
    expect(server.commentsOn(PR).map((c) => c.body.split('\n')[0])).toEqual([
      markerFor('default'),
      markerFor('nightly'),
    ]);
    expect(server.count(CREATE)).toBe(2);
  });

  it('finds its comment on page 3 of 250 and leaves a marked comment by another user alone', async () => {
    const forged = server.addComment({ issueNumber: PR, body: written('default', 'forged'), user: MALLORY });
    for (let i = 0; i < 228; i++) {
      server.addComment({ issueNumber: PR, body: `chatter ${i}`, user: i % 2 ? MALLORY : ACTIONS_BOT });
    }
    const ours = server.addComment({ issueNumber: PR, body: written('default', 'old'), user: ACTIONS_BOT });
    for (let i = 0; i < 20; i++) server.addComment({ issueNumber: PR, body: `more ${i}`, user: MALLORY });
    expect(server.commentsOn(PR).indexOf(ours)).toBe(229);

    const result = await upsert({ body: 'new' });
    expect(result).toMatchObject({ action: 'updated', id: ours.id });
    expect(ours.body.endsWith('\nnew')).toBe(true);
    expect(forged.body).toBe(written('default', 'forged'));
    expect(server.commentsOn(PR)).toHaveLength(250);
    expect(server.requests.filter((r) => r.route === LIST).map((r) => r.query)).toEqual([
      '?per_page=100',
      '?per_page=100&page=2',
      '?per_page=100&page=3',
    ]);
  });

  it('turns a permission 403 on create into CommentPermissionError without retrying', async () => {
    server.inject(CREATE, { kind: 'permission' });
    const error = await upsert().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommentPermissionError);
    expect((error as CommentPermissionError).permission).toBe('pull-requests: write');
    expect((error as CommentPermissionError).status).toBe(403);
    expect((error as Error).message).toMatch(/Resource not accessible by integration.*pull-requests: write/);
    expect(statuses(CREATE)).toEqual([403]);
    expect(server.commentsOn(PR)).toHaveLength(0);
  });

  it('leaves exactly one comment when the create succeeded but answered 502', async () => {
    server.inject(CREATE, { kind: 'after', status: 502 });
    const result = await upsert({ body: 'once' });
    expect(result.action).toBe('created');
    expect(statuses(CREATE)).toEqual([502]);
    expect(server.commentsOn(PR)).toHaveLength(1);
    expect(server.commentsOn(PR)[0]?.id).toBe(result.id);
  });

  it('creates again after a 502 that did not create', async () => {
    server.inject(CREATE, { kind: 'status', status: 502 });
    const result = await upsert({ body: 'twice' });
    expect(result.action).toBe('created');
    expect(statuses(CREATE)).toEqual([502, 201]);
    expect(server.commentsOn(PR)).toHaveLength(1);
  });

  it('gives up with a CommentError after three failed creates', async () => {
    server.inject(CREATE, { kind: 'status', status: 503 }, 5);
    const error = await upsert().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommentError);
    expect(error).not.toBeInstanceOf(CommentPermissionError);
    expect((error as CommentError).status).toBe(503);
    expect(statuses(CREATE)).toEqual([503, 503, 503]);
  });

  it('rides out 500/502/503 bursts and reset sockets while listing, within the retry bound', async () => {
    server.inject(LIST, { kind: 'status', status: 500 });
    server.inject(LIST, { kind: 'status', status: 502 });
    server.inject(LIST, { kind: 'status', status: 503 });
    const created = await upsert({ body: 'one' });
    expect(created.action).toBe('created');
    expect(statuses(LIST).slice(0, 4)).toEqual([500, 502, 503, 200]);

    server.inject(LIST, { kind: 'reset' }, 2);
    const updated = await upsert({ body: 'two' });
    expect(updated).toMatchObject({ action: 'updated', id: created.id });
    expect(statuses(LIST).slice(-3)).toEqual([-1, -1, 200]);

    // One failure more than the client retries (3) surfaces as a CommentError naming the status.
    server.inject(LIST, { kind: 'status', status: 503 }, 4);
    const error = await upsert({ body: 'three' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommentError);
    expect((error as CommentError).message).toMatch(/Cannot list the comments of #7 \(HTTP 503/);
    expect(statuses(LIST).slice(-4)).toEqual([503, 503, 503, 503]);
    expect(server.commentsOn(PR)).toHaveLength(1);
  });

  it('waits out a secondary rate limit on create and creates once', async () => {
    server.inject(CREATE, { kind: 'secondary-rate-limit', retryAfter: 1 });
    const result = await upsert();
    expect(result.action).toBe('created');
    expect(statuses(CREATE)).toEqual([403, 201]);
    expect(server.commentsOn(PR)).toHaveLength(1);
  });

  it('recreates the comment when it was deleted between listing and updating', async () => {
    const ours = server.addComment({ issueNumber: PR, body: written('default', 'old'), user: ACTIONS_BOT });
    server.inject(UPDATE, {
      kind: 'before',
      action: (s) => s.comments.splice(s.comments.indexOf(ours), 1),
    });
    const result = await upsert({ body: 'fresh' });
    expect(result.action).toBe('created');
    expect(statuses(UPDATE)).toEqual([404]);
    expect(server.commentsOn(PR).map((c) => c.id)).toEqual([result.id]);
    expect(server.commentsOn(PR)[0]?.body.endsWith('\nfresh')).toBe(true);
  });

  it('shrinks the body once when GitHub answers "Body is too long"', async () => {
    const body = 'line of report\n'.repeat(2000);
    server.inject(CREATE, { kind: 'body-too-long' });
    const result = await upsert({ body });
    expect(result.action).toBe('created');
    const sent = server.requests
      .filter((r) => r.route === CREATE)
      .map((r) => (r.body as { body: string }).body);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.length).toBeLessThan(sent[0]!.length);
    const stored = server.commentsOn(PR)[0]!.body;
    expect(stored).toBe(sent[1]);
    expect(stored.startsWith(markerFor('default'))).toBe(true);
    expect(stored).toContain(DEFAULT_TRUNCATION_NOTE);
  });

  it('fits a server that counts UTF-8 bytes after one refusal', async () => {
    server.commentLengthUnit = 'utf8-bytes';
    const body = 'é'.repeat(40_000); // 40 000 characters, 80 000 bytes
    const result = await upsert({ body });
    expect(result.action).toBe('created');
    expect(statuses(CREATE)).toEqual([422, 201]);
    expect(Buffer.byteLength(server.commentsOn(PR)[0]!.body)).toBeLessThanOrEqual(65536);
  });

  it('cuts a 200 000-character report to the limit with the marker intact', async () => {
    const row = '| `pkg/mod.py:12` | <code>x = [0] * n</code> | +1.2 MiB 🧠 |\n';
    const body = `<details><summary>Sites</summary>\n\n| site | code | delta |\n|---|---|---|\n${row.repeat(4000)}`;
    expect(body.length).toBeGreaterThan(200_000);
    await upsert({ body, measuredSha: SHA_NEW });
    const stored = server.commentsOn(PR)[0]!.body;
    expect(stored.length).toBeLessThanOrEqual(65536);
    expect(stored.startsWith(`${markerFor('default')}\n`)).toBe(true);
    expect(parseCommentMeta(stored)?.sha).toBe(SHA_NEW);
    expect(stored.trimEnd().endsWith(DEFAULT_TRUNCATION_NOTE)).toBe(true);
    expect(stored.isWellFormed()).toBe(true);
    // Cut after a whole table row, then the <details> closed after a blank line.
    expect(stored).toMatch(/\+1\.2 MiB 🧠 \|\n\n<\/details>\n\n> \[!NOTE\]/);
    const html = micromark(stored, {
      allowDangerousHtml: true,
      extensions: [gfm()],
      htmlExtensions: [gfmHtml()],
    });
    expect(html.split('<details>').length).toBe(html.split('</details>').length);
    expect(html.split('<code>').length).toBe(html.split('</code>').length);
    expect(html).toMatch(/<\/tbody>\n<\/table>\n<\/details>/);
  });

  it('keeps the oldest of two comments with the same key and deletes the newer', async () => {
    const older = server.addComment({
      issueNumber: PR,
      body: written('default', 'older'),
      user: ACTIONS_BOT,
      createdAt: '2024-05-01T10:00:00Z',
    });
    const newer = server.addComment({
      issueNumber: PR,
      body: written('default', 'newer'),
      user: ACTIONS_BOT,
      createdAt: '2024-05-01T10:00:05Z',
    });
    const result = await upsert({ body: 'merged' });
    expect(result).toMatchObject({ action: 'updated', id: older.id });
    expect(server.commentsOn(PR).map((c) => c.id)).toEqual([older.id]);
    expect(server.requests.filter((r) => r.route === DELETE).map((r) => r.path)).toEqual([
      `/repos/octo-org/octo-repo/issues/comments/${newer.id}`,
    ]);
  });

  it('resolves two racing runs to one comment', async () => {
    // Both runs list before either creates.
    server.inject(LIST, { kind: 'delay', ms: 150 }, 2);
    const [a, b] = await Promise.all([upsert({ body: 'run a' }), upsert({ body: 'run b' }, client())]);
    expect(server.count(CREATE)).toBe(2);
    expect(server.count(DELETE)).toBeGreaterThanOrEqual(1);
    expect(server.commentsOn(PR)).toHaveLength(1);
    const survivor = server.commentsOn(PR)[0]!;
    expect([a.id, b.id]).toContain(survivor.id);
    expect(a.id).toBe(b.id);
  });

  it('does not overwrite a result for the current head with an older one', async () => {
    const ours = server.addComment({
      issueNumber: PR,
      body: written('default', 'head result', SHA_NEW),
      user: ACTIONS_BOT,
    });
    const stale = await upsert({ body: 'stale result', measuredSha: SHA_OLD });
    expect(stale).toMatchObject({ action: 'skipped', id: ours.id });
    expect(ours.body).toBe(written('default', 'head result', SHA_NEW));
    expect(server.count(UPDATE)).toBe(0);

    const rerun = await upsert({ body: 'rerun', measuredSha: SHA_NEW });
    expect(rerun.action).toBe('updated');
    expect(parseCommentMeta(ours.body)?.sha).toBe(SHA_NEW);
  });

  it('overwrites an older result when this run measured the current head', async () => {
    const ours = server.addComment({
      issueNumber: PR,
      body: written('default', 'old', SHA_OLD),
      user: ACTIONS_BOT,
    });
    const result = await upsert({ body: 'new', measuredSha: SHA_NEW });
    expect(result.action).toBe('updated');
    expect(ours.body.endsWith('\nnew')).toBe(true);
  });

  it("uses GET /user's login for a personal token", async () => {
    const alice: GitHubUser = { login: 'alice', id: 7, type: 'User' };
    server.tokens.set('ghp_alice', { user: alice, kind: 'user' });
    const bot = server.addComment({ issueNumber: PR, body: written('default', 'bot'), user: ACTIONS_BOT });
    const mine = server.addComment({ issueNumber: PR, body: written('default', 'alice'), user: alice });
    const result = await upsert({ body: 'by alice' }, client('ghp_alice'));
    expect(result).toMatchObject({ action: 'updated', id: mine.id, author: 'alice' });
    expect(bot.body).toBe(written('default', 'bot'));
    expect(server.count(CREATE)).toBe(0);
  });

  it('learns a GitHub App identity from its own create and folds into the earlier comment', async () => {
    const app: GitHubUser = { login: 'memdelta-app[bot]', id: 99, type: 'Bot' };
    server.tokens.set('ghs_app', { user: app, kind: 'installation' });
    const earlier = server.addComment({
      issueNumber: PR,
      body: written('default', 'earlier'),
      user: app,
      createdAt: '2024-05-01T10:00:00Z',
    });
    const guessed = await upsert({ body: 'guessed' }, client('ghs_app'));
    expect(guessed).toMatchObject({ action: 'updated', id: earlier.id, author: 'memdelta-app[bot]' });
    expect(server.commentsOn(PR).map((c) => c.id)).toEqual([earlier.id]);
    expect(earlier.body.endsWith('\nguessed')).toBe(true);

    const creates = server.count(CREATE);
    const told = await upsert({ body: 'told', identity: 'memdelta-app[bot]' }, client('ghs_app'));
    expect(told).toMatchObject({ action: 'updated', id: earlier.id });
    expect(server.count(CREATE)).toBe(creates);
  });

  it('rejects an unsafe key or SHA before any request', async () => {
    await expect(upsert({ key: 'a" --><script>' })).rejects.toThrow(/Invalid comment key/);
    await expect(upsert({ measuredSha: 'HEAD' })).rejects.toThrow(/Invalid measured SHA/);
    expect(server.requests).toHaveLength(0);
  });
});

describe('truncateBody', () => {
  const marker = markerFor('default');

  it('returns a body that fits unchanged', () => {
    expect(truncateBody('short', 10)).toBe('short');
  });

  it('never splits a surrogate pair', () => {
    const body = `${marker}\n${'🧠'.repeat(50_000)}`;
    for (const max of [1000, 1001, 1002, 1003]) {
      const out = truncateBody(body, max, 'cut');
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out.isWellFormed()).toBe(true);
      expect(out.startsWith(marker)).toBe(true);
    }
  });

  it('never cuts inside a tag, a comment or an entity', () => {
    const chunk = '<span title="a long attribute value">x &amp; y</span><!-- hidden note -->';
    const body = `${marker}\n${chunk.repeat(200)}`;
    for (let max = 300; max < 400; max++) {
      const out = truncateBody(body, max, 'cut');
      expect(out.length).toBeLessThanOrEqual(max);
      const head = out.slice(0, out.lastIndexOf('\n\ncut'));
      expect(head.split('<!--').length).toBe(head.split('-->').length);
      expect(/<[^>]*$/.test(head)).toBe(false);
      expect(/&[a-z]*$/.test(head)).toBe(false);
    }
  });

  it('closes an open code fence and <details>, cutting at a line end', () => {
    const body = `${marker}\n<details><summary>Trace</summary>\n\n\`\`\`text\n${'frame line\n'.repeat(500)}\`\`\`\n</details>\n`;
    const out = truncateBody(body, 1000, 'cut');
    expect(out.length).toBeLessThanOrEqual(1000);
    expect(out).toMatch(/frame line\n```\n\n<\/details>\n\ncut\n$/);
  });

  it('refuses a limit that cannot hold the marker and the note', () => {
    expect(() => truncateBody(`${marker}\n${'x'.repeat(100)}`, 40, 'note')).toThrow(RangeError);
  });
});
