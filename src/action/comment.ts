/**
 * The sticky pull request comment: one comment per pull request and key, found by a hidden marker at the very
 * start of its body among all comments written by the token's own identity, updated in place on every run.
 *
 * Identity. The token's login is, in order: the `identity` option; else the login GET /user returns (personal
 * and OAuth tokens); else `github-actions[bot]`, because installation tokens (GITHUB_TOKEN, GitHub App tokens)
 * get 403 from GET /user. Once this run has created a comment, that comment's author is authoritative: the
 * duplicate check after a create uses it, so a wrong guess (a GitHub App token without `identity`) costs one
 * extra create and delete, never two comments and never an edit of someone else's comment.
 *
 * Newer result. The comment records the head SHA it measured. A run skips its write only when it can prove the
 * existing comment is newer: the existing comment measured a different SHA, and that SHA is the pull request's
 * current head while this run's is not. In every other case (same SHA re-run, this run measured the current head,
 * both stale, head unknown) the run writes; a run for the current head always comes after and wins.
 */
import { randomUUID } from 'node:crypto';
import type { GitHubClient } from './octokit.js';
import { DEFAULT_TRUNCATION_NOTE, GITHUB_COMMENT_LIMIT, truncateBody } from './truncate.js';

/** Login of the identity behind GITHUB_TOKEN. */
export const ACTIONS_BOT_LOGIN = 'github-actions[bot]';

/** The permission a job needs for the sticky comment. */
export const COMMENT_PERMISSION = 'pull-requests: write';

const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SHA_PATTERN = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const META_PATTERN =
  /^<!-- memdelta:comment key="[^"]*" -->\r?\n<!-- memdelta:run(?: sha="([0-9a-f]+)")? nonce="([A-Za-z0-9-]+)" -->/;

/** A failure to publish the comment, with GitHub's status when there was one. */
export class CommentError extends Error {
  readonly status: number | undefined;
  constructor(message: string, options: { cause?: unknown; status?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CommentError';
    this.status = options.status;
  }
}

/** The token may not write comments (a 403 that is not a rate limit): the caller warns once and moves on. */
export class CommentPermissionError extends CommentError {
  readonly permission = COMMENT_PERMISSION;
  constructor(message: string, options: { cause?: unknown; status?: number } = {}) {
    super(message, options);
    this.name = 'CommentPermissionError';
  }
}

export interface StickyCommentOptions {
  owner: string;
  repo: string;
  issueNumber: number;
  /** Lets several memdelta comments coexist on one pull request; `[A-Za-z0-9._-]`, at most 64. Default `default`. */
  key?: string;
  /** The Markdown report; the marker is added in front of it. */
  body: string;
  /** Full head SHA this run measured; enables the newer-result rule. */
  measuredSha?: string;
  /** The token's login when known (e.g. `my-app[bot]` for a GitHub App token). */
  identity?: string;
  /** Size limit; default GitHub's 65 536 characters. */
  maxLength?: number;
  /** Appended when the body is truncated. */
  truncationNote?: string;
  /** Per-run token written into the body to recognise this run's own write; random by default. */
  nonce?: string;
  log?: (message: string) => void;
}

export interface StickyCommentResult {
  action: 'created' | 'updated' | 'skipped';
  id: number;
  /** The comment's web URL. */
  url: string;
  /** The login the comment is written by. */
  author: string;
}

interface Comment {
  id: number;
  body?: string | undefined;
  html_url: string;
  created_at: string;
  user: { login: string } | null;
}

/** The hidden marker a comment for `key` starts with. */
export function markerFor(key: string): string {
  if (!KEY_PATTERN.test(key)) {
    throw new CommentError(
      `Invalid comment key ${JSON.stringify(key)}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.`,
    );
  }
  return `<!-- memdelta:comment key="${key}" -->`;
}

/** Reads the measured SHA and run nonce a memdelta comment records. */
export function parseCommentMeta(body: string): { sha: string | undefined; nonce: string } | undefined {
  const m = META_PATTERN.exec(body);
  return m?.[2] ? { sha: m[1], nonce: m[2] } : undefined;
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isRateLimit(error: unknown): boolean {
  const headers = (error as { response?: { headers?: Record<string, string> } }).response?.headers;
  return /rate limit/i.test(messageOf(error)) || headers?.['x-ratelimit-remaining'] === '0';
}

function isTooLong(error: unknown): boolean {
  return statusOf(error) === 422 && /body is too long/i.test(messageOf(error));
}

/** 5xx, or no response at all (network error; Octokit reports those as 500 too). */
function isTransient(error: unknown): boolean {
  const status = statusOf(error);
  return status === undefined || status >= 500;
}

function toCommentError(what: string, error: unknown): CommentError {
  if (error instanceof CommentError) return error;
  const status = statusOf(error);
  const detail = `${status ? `HTTP ${status}: ` : ''}${messageOf(error)}`;
  if (status === 403 && !isRateLimit(error)) {
    return new CommentPermissionError(
      `Cannot ${what} (${detail}). Give the job \`permissions: ${COMMENT_PERMISSION}\`; on pull requests from forks the token is read-only, see docs/fork-prs.md.`,
      { cause: error, status },
    );
  }
  return new CommentError(`Cannot ${what} (${detail}).`, { cause: error, status });
}

class Sticky {
  private readonly marker: string;
  private readonly full: string;
  private readonly max: number;
  private readonly note: string;
  private readonly nonce: string;
  private readonly log: (message: string) => void;
  private identity = '';
  private head: Promise<string | undefined> | undefined;

  constructor(
    private readonly octokit: GitHubClient,
    private readonly o: StickyCommentOptions,
  ) {
    if (!Number.isInteger(o.issueNumber) || o.issueNumber <= 0) {
      throw new CommentError(`Invalid pull request number ${String(o.issueNumber)}.`);
    }
    if (o.measuredSha !== undefined && !SHA_PATTERN.test(o.measuredSha)) {
      throw new CommentError(
        `Invalid measured SHA ${JSON.stringify(o.measuredSha)}: expected a full lowercase hex SHA.`,
      );
    }
    this.nonce = o.nonce ?? randomUUID();
    if (!/^[A-Za-z0-9-]{1,64}$/.test(this.nonce))
      throw new CommentError('Invalid nonce: use letters, digits and -.');
    this.marker = markerFor(o.key ?? 'default');
    const sha = o.measuredSha ? ` sha="${o.measuredSha}"` : '';
    this.full = `${this.marker}\n<!-- memdelta:run${sha} nonce="${this.nonce}" -->\n${o.body}`;
    this.max = o.maxLength ?? GITHUB_COMMENT_LIMIT;
    this.note = o.truncationNote ?? DEFAULT_TRUNCATION_NOTE;
    this.log = o.log ?? (() => undefined);
  }

  private get where(): { owner: string; repo: string } {
    return { owner: this.o.owner, repo: this.o.repo };
  }

  async run(): Promise<StickyCommentResult> {
    this.identity = this.o.identity ?? (await this.learnIdentity());
    const ours = await this.listOurs();
    if (ours[0]) {
      const [keeper, ...extras] = ours;
      await this.deleteAll(extras);
      const result = await this.updateUnlessNewer(keeper);
      if (result) return result;
      this.log(`memdelta comment ${keeper.id} disappeared before the update; creating a new one.`);
    }
    return this.create();
  }

  /** Whether this key's comment by our identity exists (what `run` would update). */
  async exists(): Promise<boolean> {
    this.identity = this.o.identity ?? (await this.learnIdentity());
    return (await this.listOurs()).length > 0;
  }

  private async learnIdentity(): Promise<string> {
    try {
      const { data } = await this.octokit.rest.users.getAuthenticated();
      return data.login;
    } catch (error) {
      const status = statusOf(error);
      if (status === 401 || status === 403 || status === 404) return ACTIONS_BOT_LOGIN;
      throw toCommentError('identify the token', error);
    }
  }

  private async listAll(): Promise<Comment[]> {
    try {
      const comments = await this.octokit.paginate(this.octokit.rest.issues.listComments, {
        ...this.where,
        issue_number: this.o.issueNumber,
        per_page: 100,
      });
      return comments as Comment[];
    } catch (error) {
      throw toCommentError(`list the comments of #${this.o.issueNumber}`, error);
    }
  }

  /** This key's comments written by our identity, oldest first. */
  private async listOurs(): Promise<Comment[]> {
    const all = await this.listAll();
    return all
      .filter((c) => c.user?.login === this.identity && (c.body ?? '').startsWith(this.marker))
      .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id - b.id);
  }

  private async deleteAll(comments: Comment[]): Promise<void> {
    for (const c of comments) {
      try {
        await this.octokit.rest.issues.deleteComment({ ...this.where, comment_id: c.id });
        this.log(`Deleted duplicate memdelta comment ${c.id}.`);
      } catch (error) {
        // Another run removed it first.
        if (statusOf(error) !== 404) throw toCommentError(`delete duplicate comment ${c.id}`, error);
      }
    }
  }

  private pullHead(): Promise<string | undefined> {
    this.head ??= this.octokit.rest.pulls.get({ ...this.where, pull_number: this.o.issueNumber }).then(
      ({ data }) => data.head.sha,
      () => undefined,
    );
    return this.head;
  }

  /** True when `existing` provably holds a newer result than this run's (see the module comment). */
  private async existingIsNewer(existing: Comment): Promise<boolean> {
    const ours = this.o.measuredSha;
    const theirs = parseCommentMeta(existing.body ?? '')?.sha;
    if (!ours || !theirs || theirs === ours) return false;
    const head = await this.pullHead();
    return head !== undefined && head === theirs && head !== ours;
  }

  /** Sends `text`; on "Body is too long" shrinks it once and sends again. */
  private async withShrink<T>(send: (text: string) => Promise<T>): Promise<T> {
    const first = truncateBody(this.full, this.max, this.note);
    try {
      return await send(first);
    } catch (error) {
      if (!isTooLong(error)) throw error;
      const reported = /maximum is (\d+)/i.exec(messageOf(error))?.[1];
      const limit = Math.min(this.max, reported ? Number(reported) : this.max);
      this.log(`GitHub rejected the comment as too long (${first.length} characters); shrinking it.`);
      return send(this.shrink(first.length, limit));
    }
  }

  /**
   * GitHub refused a body we measured as fitting, so its count differs from ours (bytes, not characters): cut
   * to 90 % and then until the UTF-8 size fits too.
   */
  private shrink(previous: number, limit: number): string {
    let budget = Math.floor(previous * 0.9);
    let text = truncateBody(this.full, budget, this.note);
    for (let i = 0; i < 8 && Buffer.byteLength(text) > limit; i++) {
      budget = Math.floor((budget * limit) / Buffer.byteLength(text)) - 64;
      text = truncateBody(this.full, budget, this.note);
    }
    return text;
  }

  /** Updates `existing` unless it holds a newer result; undefined when it no longer exists. */
  private async updateUnlessNewer(existing: Comment): Promise<StickyCommentResult | undefined> {
    const author = existing.user?.login ?? this.identity;
    if (await this.existingIsNewer(existing)) {
      this.log(
        `memdelta comment ${existing.id} holds a result for the pull request's current head; not overwriting it.`,
      );
      return { action: 'skipped', id: existing.id, url: existing.html_url, author };
    }
    try {
      const { data } = await this.withShrink((body) =>
        this.octokit.rest.issues.updateComment({ ...this.where, comment_id: existing.id, body }),
      );
      return { action: 'updated', id: data.id, url: data.html_url, author };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw toCommentError(`update comment ${existing.id}`, error);
    }
  }

  /** Finds the comment this run wrote, by its nonce, whoever GitHub says wrote it. */
  private async findOwnWrite(): Promise<Comment | undefined> {
    const all = await this.listAll();
    return all.find(
      (c) => (c.body ?? '').startsWith(this.marker) && parseCommentMeta(c.body ?? '')?.nonce === this.nonce,
    );
  }

  /**
   * Creates the comment without blind retries: a POST that failed in transit may still have created it, so after a
   * transient failure the run looks for its own nonce before trying again.
   */
  private async postOnce(): Promise<Comment> {
    const attempts = 3;
    for (let attempt = 1; ; attempt++) {
      try {
        const { data } = await this.withShrink((body) =>
          this.octokit.rest.issues.createComment({
            ...this.where,
            issue_number: this.o.issueNumber,
            body,
            request: { retries: 0 },
          }),
        );
        return data as Comment;
      } catch (error) {
        if (!isTransient(error)) throw toCommentError(`comment on #${this.o.issueNumber}`, error);
        const written = await this.findOwnWrite();
        if (written) {
          this.log(
            `Creating the comment failed in transit (${messageOf(error)}) but it was created; keeping it.`,
          );
          return written;
        }
        if (attempt >= attempts) throw toCommentError(`comment on #${this.o.issueNumber}`, error);
        this.log(`Creating the comment failed (${messageOf(error)}); trying again.`);
      }
    }
  }

  private async create(): Promise<StickyCommentResult> {
    const created = await this.postOnce();
    const author = created.user?.login ?? this.identity;
    if (author !== this.identity) {
      this.log(
        `The token writes comments as ${author}, not ${this.identity}; pass it as the identity to skip this check.`,
      );
      this.identity = author;
    }
    // Another run (or an earlier run under a login we guessed wrong) may have a comment for this key too.
    const ours = await this.listOurs();
    const keeper = ours[0];
    if (!keeper || ours.length === 1)
      return { action: 'created', id: created.id, url: created.html_url, author };
    await this.deleteAll(ours.filter((c) => c.id !== keeper.id));
    if (keeper.id === created.id) return { action: 'created', id: created.id, url: created.html_url, author };
    const result = await this.updateUnlessNewer(keeper);
    if (result) return result;
    throw new CommentError(
      `memdelta comment ${keeper.id} was deleted while resolving duplicates; run again.`,
    );
  }
}

/**
 * Creates or updates the sticky memdelta comment on a pull request (see the module comment for the identity and
 * newer-result rules). Never edits another user's comment; leaves one comment per key even when runs race.
 *
 * @throws CommentPermissionError when the token may not read or write comments (GitHub's 403).
 * @throws CommentError for any other failure, with GitHub's status and message.
 */
export async function upsertStickyComment(
  octokit: GitHubClient,
  options: StickyCommentOptions,
): Promise<StickyCommentResult> {
  return new Sticky(octokit, options).run();
}

/**
 * Whether the pull request has the sticky comment of this key written by the token's identity: the comment
 * {@link upsertStickyComment} would update. Someone else's comment that starts with the marker (a quote) is not it.
 */
export async function hasStickyComment(
  octokit: GitHubClient,
  options: Pick<StickyCommentOptions, 'owner' | 'repo' | 'issueNumber' | 'key' | 'identity' | 'log'>,
): Promise<boolean> {
  return new Sticky(octokit, { ...options, body: '' }).exists();
}
