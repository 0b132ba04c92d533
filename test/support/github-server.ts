/**
 * A loopback stand-in for GitHub's REST API (node:http on 127.0.0.1, random port), serving the endpoints memdelta
 * calls with responses shaped like GitHub's. Every request is validated against GitHub's OpenAPI description: one
 * that does not fit is recorded in `violations` and answered 422, so the test that sent it fails. Faults (errors,
 * rate limits, socket resets, delays) are injected per route. The API is served under `/api/v3`, as on GitHub
 * Enterprise Server, so clients that hard-code api.github.com or drop the base path fail here.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { validateRequest, validateResponse, type OperationMatch } from './openapi.js';

/** A GitHub account as the server knows it. */
export interface GitHubUser {
  login: string;
  id: number;
  type: 'User' | 'Bot';
}

/** The identity behind GITHUB_TOKEN. */
export const ACTIONS_BOT: GitHubUser = { login: 'github-actions[bot]', id: 41898282, type: 'Bot' };

/**
 * What a token is. Installation tokens (GITHUB_TOKEN, GitHub App tokens) cannot call GET /user: GitHub answers
 * 403 "Resource not accessible by integration".
 */
export interface TokenIdentity {
  user: GitHubUser;
  kind: 'installation' | 'user';
}

export interface ServerComment {
  id: number;
  issueNumber: number;
  body: string;
  user: GitHubUser;
  createdAt: string;
  updatedAt: string;
}

export interface ServerPull {
  number: number;
  title: string;
  state: 'open' | 'closed';
  headSha: string;
  headRef: string;
  baseSha: string;
  baseRef: string;
  labels: string[];
  author: GitHubUser;
}

export interface ServerWorkflowRun {
  id: number;
  headSha: string;
  headBranch: string;
  event: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  pullNumbers: number[];
}

/** A fault answered instead of (or around) the normal response. */
export type Fault =
  /** Any status with GitHub's error body; `message` defaults to the usual text for that status. */
  | { kind: 'status'; status: number; message?: string; headers?: Record<string, string> }
  /** 403 "Resource not accessible by integration": the token lacks a permission. */
  | { kind: 'permission' }
  /** 422 with GitHub's "Body is too long" validation error. */
  | { kind: 'body-too-long' }
  /** 403 or 429 with `retry-after` and the secondary-rate-limit message. */
  | { kind: 'secondary-rate-limit'; status?: 403 | 429; retryAfter?: number }
  /** Exhausts the primary rate limit: every request answers 403 until the reset, `resetInMs` from now. */
  | { kind: 'primary-rate-limit'; resetInMs: number }
  /** Destroys the socket without answering (the client sees ECONNRESET / "other side closed"). */
  | { kind: 'reset' }
  /** Waits, then answers normally. */
  | { kind: 'delay'; ms: number }
  /** Performs the request for real, then answers this status instead (e.g. 502 after the comment was created). */
  | { kind: 'after'; status: number }
  /** Runs `action` (e.g. another client deleting the comment), then answers normally. */
  | { kind: 'before'; action: (server: GitHubServer) => void };

/** One request as the server saw it. */
export interface RequestRecord {
  method: string;
  /** Path without the `/api/v3` prefix. */
  path: string;
  query: string;
  /** `METHOD /template` from the description, when the path matched one. */
  route: string | undefined;
  body: unknown;
  status: number;
  at: number;
}

export interface Violation {
  method: string;
  path: string;
  errors: string[];
}

interface Injection {
  route: string;
  fault: Fault;
  remaining: number;
}

const API_PREFIX = '/api/v3';
const DOCS = 'https://docs.github.com/rest';
const DOC_URLS: Record<string, string> = {
  'users/get-authenticated': `${DOCS}/users/users#get-the-authenticated-user`,
  'issues/list-comments': `${DOCS}/issues/comments#list-issue-comments`,
  'issues/create-comment': `${DOCS}/issues/comments#create-an-issue-comment`,
  'issues/get-comment': `${DOCS}/issues/comments#get-an-issue-comment`,
  'issues/update-comment': `${DOCS}/issues/comments#update-an-issue-comment`,
  'issues/delete-comment': `${DOCS}/issues/comments#delete-an-issue-comment`,
  'pulls/get': `${DOCS}/pulls/pulls#get-a-pull-request`,
  'issues/list-labels-on-issue': `${DOCS}/issues/labels#list-labels-for-an-issue`,
  'actions/get-workflow-run': `${DOCS}/actions/workflow-runs#get-a-workflow-run`,
  'repos/list-pull-requests-associated-with-commit': `${DOCS}/commits/commits#list-pull-requests-associated-with-a-commit`,
};
const STATUS_TEXT: Record<number, string> = {
  400: 'Problems parsing JSON',
  401: 'Bad credentials',
  403: 'Forbidden',
  404: 'Not Found',
  422: 'Validation Failed',
  500: 'Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};
export const SECONDARY_RATE_LIMIT_MESSAGE =
  'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.';
export const PERMISSION_MESSAGE = 'Resource not accessible by integration';

class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** GitHub reports timestamps to the second. */
function timestamp(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class GitHubServer {
  readonly owner: string;
  readonly repo: string;
  readonly repoId = 123456789;
  /** Tokens the server accepts; the default token is GITHUB_TOKEN's. */
  readonly tokens = new Map<string, TokenIdentity>([
    ['ghs_test_token', { user: ACTIONS_BOT, kind: 'installation' }],
  ]);
  readonly comments: ServerComment[] = [];
  readonly pulls = new Map<number, ServerPull>();
  readonly runs = new Map<number, ServerWorkflowRun>();
  readonly requests: RequestRecord[] = [];
  /** Requests (and, as a self-check, responses) that do not fit GitHub's description. */
  readonly violations: Violation[] = [];
  /** GitHub's comment limit; `commentLengthUnit: 'utf8-bytes'` models a server counting bytes, not characters. */
  maxCommentLength = 65536;
  commentLengthUnit: 'chars' | 'utf8-bytes' = 'chars';
  private injections: Injection[] = [];
  private rateLimitedUntil = 0;
  private nextCommentId = 1_000_000;
  private server: Server | undefined;
  private origin = '';

  constructor(options: { owner?: string; repo?: string } = {}) {
    this.owner = options.owner ?? 'octo-org';
    this.repo = options.repo ?? 'octo-repo';
  }

  /** The API base URL (what GITHUB_API_URL would hold). */
  get url(): string {
    if (!this.server) throw new Error('the loopback GitHub server is not started');
    return `${this.origin}${API_PREFIX}`;
  }

  /** The web base URL (what GITHUB_SERVER_URL would hold). */
  get webUrl(): string {
    return this.origin;
  }

  /** Starts listening on 127.0.0.1 at a random port; resolves to the API base URL. */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.violations.push({
          method: req.method ?? '',
          path: req.url ?? '',
          errors: [`server error: ${String(error)}`],
        });
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** Stops listening and drops keep-alive connections. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Answers the next `times` requests to `route` (`'POST /repos/{owner}/{repo}/issues/{issue_number}/comments'`) with `fault`. */
  inject(route: string, fault: Fault, times = 1): void {
    this.injections.push({ route, fault, remaining: times });
  }

  /** How many requests reached `route` (all routes when omitted). */
  count(route?: string): number {
    return this.requests.filter((r) => route === undefined || r.route === route).length;
  }

  addPull(pull: Partial<ServerPull> & { number: number }): ServerPull {
    const full: ServerPull = {
      title: `Pull request #${pull.number}`,
      state: 'open',
      headSha: 'a'.repeat(40),
      headRef: 'feature',
      baseSha: 'b'.repeat(40),
      baseRef: 'main',
      labels: [],
      author: { login: 'octocat', id: 583231, type: 'User' },
      ...pull,
    };
    this.pulls.set(full.number, full);
    return full;
  }

  addRun(run: Partial<ServerWorkflowRun> & { id: number }): ServerWorkflowRun {
    const full: ServerWorkflowRun = {
      headSha: 'a'.repeat(40),
      headBranch: 'feature',
      event: 'pull_request',
      status: 'completed',
      conclusion: 'success',
      pullNumbers: [],
      ...run,
    };
    this.runs.set(full.id, full);
    return full;
  }

  /** Seeds a comment as if `user` had written it; `createdAt` defaults to now. */
  addComment(comment: {
    issueNumber: number;
    body: string;
    user: GitHubUser;
    createdAt?: string;
  }): ServerComment {
    const createdAt = comment.createdAt ?? timestamp();
    const stored: ServerComment = {
      id: this.nextCommentId++,
      issueNumber: comment.issueNumber,
      body: comment.body,
      user: comment.user,
      createdAt,
      updatedAt: createdAt,
    };
    this.comments.push(stored);
    return stored;
  }

  /** Comments on one issue or pull request, oldest first. */
  commentsOn(issueNumber: number): ServerComment[] {
    return this.comments.filter((c) => c.issueNumber === issueNumber);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.origin);
    const method = req.method ?? 'GET';
    const record: RequestRecord = {
      method,
      path: url.pathname,
      query: url.search,
      route: undefined,
      body: undefined,
      status: 0,
      at: Date.now(),
    };
    this.requests.push(record);

    if (!url.pathname.startsWith(`${API_PREFIX}/`)) {
      this.violations.push({ method, path: url.pathname, errors: [`the API lives under ${API_PREFIX}`] });
      return this.send(res, record, undefined, this.error(404, 'Not Found', undefined));
    }
    const path = url.pathname.slice(API_PREFIX.length);
    record.path = path;
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        this.violations.push({ method, path, errors: ['the request body is not JSON'] });
        return this.send(res, record, undefined, this.error(400, 'Problems parsing JSON', undefined));
      }
    }
    record.body = body;
    const check = validateRequest({ method, pathname: path, query: url.searchParams, body });
    record.route = check.match?.route;
    if (!check.match) {
      this.violations.push({ method, path, errors: check.errors });
      return this.send(res, record, undefined, this.error(404, 'Not Found', undefined));
    }
    if (check.errors.length > 0) {
      this.violations.push({ method, path, errors: check.errors });
      const message = `Invalid request.\n\n${check.errors.join('\n')}`;
      return this.send(res, record, undefined, this.error(422, message, check.match));
    }
    const match = check.match;

    const identity = this.authenticate(req.headers.authorization);
    if (!identity) return this.send(res, record, match, this.error(401, 'Bad credentials', match));

    if (Date.now() < this.rateLimitedUntil)
      return this.send(res, record, match, this.primaryRateLimited(match));

    const injection = this.injections.find((i) => i.route === match.route && i.remaining > 0);
    if (injection) {
      injection.remaining -= 1;
      const fault = injection.fault;
      switch (fault.kind) {
        case 'delay':
          await new Promise((resolve) => setTimeout(resolve, fault.ms));
          break;
        case 'before':
          fault.action(this);
          break;
        case 'reset':
          record.status = -1;
          req.socket.destroy();
          return;
        case 'after': {
          this.route(match, url.searchParams, body, identity);
          return this.send(
            res,
            record,
            match,
            this.error(fault.status, STATUS_TEXT[fault.status] ?? 'Error', match),
          );
        }
        case 'primary-rate-limit':
          this.rateLimitedUntil = Date.now() + fault.resetInMs;
          return this.send(res, record, match, this.primaryRateLimited(match));
        default:
          return this.send(res, record, match, this.faultReply(fault, match));
      }
    }
    return this.send(res, record, match, this.route(match, url.searchParams, body, identity));
  }

  private authenticate(header: string | undefined): TokenIdentity | undefined {
    const m = /^(?:token|bearer)\s+(\S+)$/i.exec(header ?? '');
    return m?.[1] ? this.tokens.get(m[1]) : undefined;
  }

  private faultReply(fault: Fault, match: OperationMatch): Reply {
    switch (fault.kind) {
      case 'status':
        return this.error(
          fault.status,
          fault.message ?? STATUS_TEXT[fault.status] ?? 'Error',
          match,
          fault.headers,
        );
      case 'permission':
        return this.error(403, PERMISSION_MESSAGE, match);
      case 'body-too-long':
        return this.bodyTooLong(match);
      case 'secondary-rate-limit':
        return this.error(fault.status ?? 403, SECONDARY_RATE_LIMIT_MESSAGE, match, {
          'retry-after': String(fault.retryAfter ?? 1),
        });
      default:
        throw new Error(`unhandled fault ${fault.kind}`);
    }
  }

  private primaryRateLimited(match: OperationMatch): Reply {
    return this.error(403, 'API rate limit exceeded for installation ID 4242.', match, {
      'x-ratelimit-remaining': '0',
      'x-ratelimit-used': '5000',
      'x-ratelimit-reset': String(Math.ceil(this.rateLimitedUntil / 1000)),
    });
  }

  private bodyTooLong(match: OperationMatch): Reply {
    return new Reply(422, {
      message: 'Validation Failed',
      errors: [
        {
          resource: 'IssueComment',
          code: 'unprocessable',
          field: 'data',
          message: `Body is too long (maximum is ${this.maxCommentLength} characters)`,
        },
      ],
      documentation_url: DOC_URLS[match.operationId] ?? DOCS,
      status: '422',
    });
  }

  private error(
    status: number,
    message: string,
    match: OperationMatch | undefined,
    headers?: Record<string, string>,
  ): Reply {
    const documentation = match ? (DOC_URLS[match.operationId] ?? DOCS) : DOCS;
    return new Reply(status, { message, documentation_url: documentation, status: String(status) }, headers);
  }

  private send(
    res: ServerResponse,
    record: RequestRecord,
    match: OperationMatch | undefined,
    reply: Reply,
  ): void {
    record.status = reply.status;
    // Self-check: the stand-in's own successful responses must fit the description too.
    if (match && reply.status < 300 && reply.body !== undefined) {
      const errors = validateResponse(match, reply.status, reply.body);
      if (errors.length > 0)
        this.violations.push({ method: match.method, path: record.path, errors: errors.slice(0, 10) });
    }
    const headers: Record<string, string> = {
      'x-github-api-version-selected': '2022-11-28',
      'x-github-media-type': 'github.v3; format=json',
      'x-github-request-id': `0000:${record.at.toString(16)}:${this.requests.length}`,
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '4999',
      'x-ratelimit-used': '1',
      'x-ratelimit-resource': 'core',
      'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 3600),
      ...reply.headers,
    };
    if (reply.body === undefined) {
      res.writeHead(reply.status, headers).end();
      return;
    }
    const text = JSON.stringify(reply.body);
    res
      .writeHead(reply.status, {
        ...headers,
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(text)),
      })
      .end(text);
  }

  // ---- routes ----------------------------------------------------------------------------------------------

  private route(
    match: OperationMatch,
    query: URLSearchParams,
    body: unknown,
    identity: TokenIdentity,
  ): Reply {
    const p = match.params;
    if (match.operationId === 'users/get-authenticated') {
      if (identity.kind === 'installation') return this.error(403, PERMISSION_MESSAGE, match);
      return new Reply(200, this.privateUserJson(identity.user));
    }
    if (
      p.owner?.toLowerCase() !== this.owner.toLowerCase() ||
      p.repo?.toLowerCase() !== this.repo.toLowerCase()
    ) {
      return this.error(404, 'Not Found', match);
    }
    switch (match.operationId) {
      case 'issues/list-comments': {
        const n = Number(p.issue_number);
        if (!this.pulls.has(n)) return this.error(404, 'Not Found', match);
        return this.paginate(
          match,
          query,
          this.commentsOn(n).map((c) => this.commentJson(c)),
        );
      }
      case 'issues/create-comment': {
        const n = Number(p.issue_number);
        if (!this.pulls.has(n)) return this.error(404, 'Not Found', match);
        const text = (body as { body: string }).body;
        if (this.tooLong(text)) return this.bodyTooLong(match);
        const created = this.addComment({ issueNumber: n, body: text, user: identity.user });
        const json = this.commentJson(created);
        return new Reply(201, json, { location: json.url });
      }
      case 'issues/get-comment':
      case 'issues/update-comment':
      case 'issues/delete-comment': {
        const comment = this.comments.find((c) => c.id === Number(p.comment_id));
        if (!comment) return this.error(404, 'Not Found', match);
        if (match.operationId === 'issues/get-comment') return new Reply(200, this.commentJson(comment));
        if (match.operationId === 'issues/delete-comment') {
          this.comments.splice(this.comments.indexOf(comment), 1);
          return new Reply(204, undefined);
        }
        const text = (body as { body: string }).body;
        if (this.tooLong(text)) return this.bodyTooLong(match);
        comment.body = text;
        comment.updatedAt = timestamp();
        return new Reply(200, this.commentJson(comment));
      }
      case 'pulls/get': {
        const pull = this.pulls.get(Number(p.pull_number));
        return pull ? new Reply(200, this.pullJson(pull, true)) : this.error(404, 'Not Found', match);
      }
      case 'issues/list-labels-on-issue': {
        const pull = this.pulls.get(Number(p.issue_number));
        if (!pull) return this.error(404, 'Not Found', match);
        return this.paginate(
          match,
          query,
          pull.labels.map((name) => this.labelJson(name)),
        );
      }
      case 'actions/get-workflow-run': {
        const run = this.runs.get(Number(p.run_id));
        return run ? new Reply(200, this.runJson(run)) : this.error(404, 'Not Found', match);
      }
      case 'repos/list-pull-requests-associated-with-commit': {
        const sha = p.commit_sha ?? '';
        const pulls = [...this.pulls.values()].filter((x) => x.headSha === sha);
        return this.paginate(
          match,
          query,
          pulls.map((x) => this.pullJson(x, false)),
        );
      }
      default:
        this.violations.push({
          method: match.method,
          path: match.template,
          errors: ['not implemented by the loopback server'],
        });
        return this.error(404, 'Not Found', match);
    }
  }

  private tooLong(text: string): boolean {
    const size = this.commentLengthUnit === 'chars' ? [...text].length : Buffer.byteLength(text);
    return size > this.maxCommentLength;
  }

  /** GitHub's pagination: per_page defaults to 30 and is capped at 100; `Link` carries next/last/first/prev. */
  private paginate(match: OperationMatch, query: URLSearchParams, items: unknown[]): Reply {
    const perPage = Math.min(Math.max(Number(query.get('per_page') ?? 30) || 30, 1), 100);
    const page = Math.max(Number(query.get('page') ?? 1) || 1, 1);
    const last = Math.max(Math.ceil(items.length / perPage), 1);
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const base = `${this.url}${match.template.replace(/\{(\w+)\}/g, (_, name: string) => match.params[name] ?? '')}`;
    const link = (n: number, rel: string): string => {
      const q = new URLSearchParams(query);
      q.set('per_page', String(perPage));
      q.set('page', String(n));
      return `<${base}?${q.toString()}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, 'prev'));
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
    if (page > 1) links.push(link(1, 'first'));
    return new Reply(200, slice, links.length > 0 ? { link: links.join(', ') } : {});
  }

  // ---- JSON shapes -----------------------------------------------------------------------------------------

  private userJson(user: GitHubUser): Record<string, unknown> {
    const api = `${this.url}/users/${encodeURIComponent(user.login)}`;
    return {
      login: user.login,
      id: user.id,
      node_id: Buffer.from(`04:${user.type}${user.id}`).toString('base64'),
      avatar_url: `${this.origin}/avatars/u/${user.id}?v=4`,
      gravatar_id: '',
      url: api,
      html_url: `${this.origin}/${user.type === 'Bot' ? 'apps/' + user.login.replace(/\[bot\]$/, '') : user.login}`,
      followers_url: `${api}/followers`,
      following_url: `${api}/following{/other_user}`,
      gists_url: `${api}/gists{/gist_id}`,
      starred_url: `${api}/starred{/owner}{/repo}`,
      subscriptions_url: `${api}/subscriptions`,
      organizations_url: `${api}/orgs`,
      repos_url: `${api}/repos`,
      events_url: `${api}/events{/privacy}`,
      received_events_url: `${api}/received_events`,
      type: user.type,
      user_view_type: 'public',
      site_admin: false,
    };
  }

  private privateUserJson(user: GitHubUser): Record<string, unknown> {
    const when = '2011-01-25T18:44:36Z';
    return {
      ...this.userJson(user),
      user_view_type: 'private',
      name: user.login,
      company: null,
      blog: '',
      location: null,
      email: null,
      hireable: null,
      bio: null,
      twitter_username: null,
      public_repos: 2,
      public_gists: 0,
      followers: 0,
      following: 0,
      created_at: when,
      updated_at: when,
      private_gists: 0,
      total_private_repos: 0,
      owned_private_repos: 0,
      disk_usage: 0,
      collaborators: 0,
      two_factor_authentication: true,
    };
  }

  private repoApi(): string {
    return `${this.url}/repos/${this.owner}/${this.repo}`;
  }

  private repositoryJson(): Record<string, unknown> {
    const api = this.repoApi();
    const when = '2020-01-01T00:00:00Z';
    return {
      id: this.repoId,
      node_id: 'R_kgDOAAAAAQ',
      name: this.repo,
      full_name: `${this.owner}/${this.repo}`,
      private: false,
      owner: this.userJson({ login: this.owner, id: 9919, type: 'User' }),
      html_url: `${this.origin}/${this.owner}/${this.repo}`,
      description: null,
      fork: false,
      url: api,
      archive_url: `${api}/{archive_format}{/ref}`,
      assignees_url: `${api}/assignees{/user}`,
      blobs_url: `${api}/git/blobs{/sha}`,
      branches_url: `${api}/branches{/branch}`,
      collaborators_url: `${api}/collaborators{/collaborator}`,
      comments_url: `${api}/comments{/number}`,
      commits_url: `${api}/commits{/sha}`,
      compare_url: `${api}/compare/{base}...{head}`,
      contents_url: `${api}/contents/{+path}`,
      contributors_url: `${api}/contributors`,
      deployments_url: `${api}/deployments`,
      downloads_url: `${api}/downloads`,
      events_url: `${api}/events`,
      forks_url: `${api}/forks`,
      git_commits_url: `${api}/git/commits{/sha}`,
      git_refs_url: `${api}/git/refs{/sha}`,
      git_tags_url: `${api}/git/tags{/sha}`,
      hooks_url: `${api}/hooks`,
      issue_comment_url: `${api}/issues/comments{/number}`,
      issue_events_url: `${api}/issues/events{/number}`,
      issues_url: `${api}/issues{/number}`,
      keys_url: `${api}/keys{/key_id}`,
      labels_url: `${api}/labels{/name}`,
      languages_url: `${api}/languages`,
      merges_url: `${api}/merges`,
      milestones_url: `${api}/milestones{/number}`,
      notifications_url: `${api}/notifications{?since,all,participating}`,
      pulls_url: `${api}/pulls{/number}`,
      releases_url: `${api}/releases{/id}`,
      stargazers_url: `${api}/stargazers`,
      statuses_url: `${api}/statuses/{sha}`,
      subscribers_url: `${api}/subscribers`,
      subscription_url: `${api}/subscription`,
      tags_url: `${api}/tags`,
      teams_url: `${api}/teams`,
      trees_url: `${api}/git/trees{/sha}`,
      clone_url: `${this.origin}/${this.owner}/${this.repo}.git`,
      git_url: `git://127.0.0.1/${this.owner}/${this.repo}.git`,
      ssh_url: `git@127.0.0.1:${this.owner}/${this.repo}.git`,
      svn_url: `${this.origin}/${this.owner}/${this.repo}`,
      mirror_url: null,
      homepage: null,
      language: 'Python',
      forks: 0,
      forks_count: 0,
      stargazers_count: 0,
      watchers: 0,
      watchers_count: 0,
      size: 100,
      default_branch: 'main',
      open_issues: this.pulls.size,
      open_issues_count: this.pulls.size,
      has_issues: true,
      has_projects: false,
      has_wiki: false,
      has_pages: false,
      has_downloads: true,
      archived: false,
      disabled: false,
      license: null,
      pushed_at: when,
      created_at: when,
      updated_at: when,
    };
  }

  private commentJson(c: ServerComment): Record<string, unknown> & { url: string } {
    const api = this.repoApi();
    return {
      id: c.id,
      node_id: Buffer.from(`012:IssueComment${c.id}`).toString('base64'),
      url: `${api}/issues/comments/${c.id}`,
      html_url: `${this.origin}/${this.owner}/${this.repo}/pull/${c.issueNumber}#issuecomment-${c.id}`,
      body: c.body,
      user: this.userJson(c.user),
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      issue_url: `${api}/issues/${c.issueNumber}`,
      author_association: c.user.type === 'Bot' ? 'NONE' : 'CONTRIBUTOR',
      performed_via_github_app: null,
      reactions: {
        url: `${api}/issues/comments/${c.id}/reactions`,
        total_count: 0,
        '+1': 0,
        '-1': 0,
        laugh: 0,
        confused: 0,
        heart: 0,
        hooray: 0,
        eyes: 0,
        rocket: 0,
      },
    };
  }

  private labelJson(name: string): Record<string, unknown> {
    const id = [...name].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) % 1_000_000_007, 7);
    return {
      id,
      node_id: Buffer.from(`010:Label${id}`).toString('base64'),
      url: `${this.repoApi()}/labels/${encodeURIComponent(name)}`,
      name,
      description: null,
      color: 'ededed',
      default: false,
    };
  }

  private pullJson(pull: ServerPull, full: boolean): Record<string, unknown> {
    const api = this.repoApi();
    const html = `${this.origin}/${this.owner}/${this.repo}/pull/${pull.number}`;
    const link = (href: string): { href: string } => ({ href });
    const side = (ref: string, sha: string): Record<string, unknown> => ({
      label: `${this.owner}:${ref}`,
      ref,
      sha,
      user: this.userJson({ login: this.owner, id: 9919, type: 'User' }),
      repo: this.repositoryJson(),
    });
    const when = '2024-05-01T12:00:00Z';
    const json: Record<string, unknown> = {
      url: `${api}/pulls/${pull.number}`,
      id: 900_000 + pull.number,
      node_id: Buffer.from(`011:PullRequest${pull.number}`).toString('base64'),
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      issue_url: `${api}/issues/${pull.number}`,
      commits_url: `${api}/pulls/${pull.number}/commits`,
      review_comments_url: `${api}/pulls/${pull.number}/comments`,
      review_comment_url: `${api}/pulls/comments{/number}`,
      comments_url: `${api}/issues/${pull.number}/comments`,
      statuses_url: `${api}/statuses/${pull.headSha}`,
      number: pull.number,
      state: pull.state,
      locked: false,
      title: pull.title,
      user: this.userJson(pull.author),
      body: null,
      labels: pull.labels.map((name) => this.labelJson(name)),
      milestone: null,
      active_lock_reason: null,
      created_at: when,
      updated_at: when,
      closed_at: pull.state === 'closed' ? when : null,
      merged_at: null,
      merge_commit_sha: null,
      assignee: null,
      assignees: [],
      requested_reviewers: [],
      requested_teams: [],
      head: side(pull.headRef, pull.headSha),
      base: side(pull.baseRef, pull.baseSha),
      _links: {
        self: link(`${api}/pulls/${pull.number}`),
        html: link(html),
        issue: link(`${api}/issues/${pull.number}`),
        comments: link(`${api}/issues/${pull.number}/comments`),
        review_comments: link(`${api}/pulls/${pull.number}/comments`),
        review_comment: link(`${api}/pulls/comments{/number}`),
        commits: link(`${api}/pulls/${pull.number}/commits`),
        statuses: link(`${api}/statuses/${pull.headSha}`),
      },
      author_association: 'CONTRIBUTOR',
      auto_merge: null,
      draft: false,
    };
    if (full) {
      Object.assign(json, {
        merged: false,
        mergeable: true,
        rebaseable: true,
        mergeable_state: 'clean',
        merged_by: null,
        comments: this.commentsOn(pull.number).length,
        review_comments: 0,
        maintainer_can_modify: false,
        commits: 1,
        additions: 1,
        deletions: 0,
        changed_files: 1,
      });
    }
    return json;
  }

  private runJson(run: ServerWorkflowRun): Record<string, unknown> {
    const api = this.repoApi();
    const pulls = run.pullNumbers
      .map((n) => this.pulls.get(n))
      .filter((x): x is ServerPull => x !== undefined)
      .map((x) => ({
        id: 900_000 + x.number,
        number: x.number,
        url: `${api}/pulls/${x.number}`,
        head: { ref: x.headRef, sha: x.headSha, repo: { id: this.repoId, url: api, name: this.repo } },
        base: { ref: x.baseRef, sha: x.baseSha, repo: { id: this.repoId, url: api, name: this.repo } },
      }));
    const when = '2024-05-01T12:00:00Z';
    const runApi = `${api}/actions/runs/${run.id}`;
    return {
      id: run.id,
      name: 'memdelta',
      node_id: Buffer.from(`WorkflowRun${run.id}`).toString('base64'),
      head_branch: run.headBranch,
      head_sha: run.headSha,
      path: '.github/workflows/memdelta.yml',
      display_title: 'memdelta',
      run_number: 7,
      run_attempt: 1,
      event: run.event,
      status: run.status,
      conclusion: run.conclusion,
      workflow_id: 161335,
      url: runApi,
      html_url: `${this.origin}/${this.owner}/${this.repo}/actions/runs/${run.id}`,
      pull_requests: pulls,
      created_at: when,
      updated_at: when,
      run_started_at: when,
      jobs_url: `${runApi}/jobs`,
      logs_url: `${runApi}/logs`,
      check_suite_url: `${api}/check-suites/${run.id}`,
      artifacts_url: `${runApi}/artifacts`,
      cancel_url: `${runApi}/cancel`,
      rerun_url: `${runApi}/rerun`,
      workflow_url: `${api}/actions/workflows/161335`,
      head_commit: {
        id: run.headSha,
        tree_id: 'c'.repeat(40),
        message: 'Change',
        timestamp: when,
        author: { name: 'Octo Cat', email: 'octocat@example.com' },
        committer: { name: 'Octo Cat', email: 'octocat@example.com' },
      },
      repository: this.repositoryJson(),
      head_repository: this.repositoryJson(),
    };
  }
}
