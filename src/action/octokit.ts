/**
 * The GitHub REST client memdelta publishes with: `@actions/github`'s Octokit plus retries for transient failures
 * and waits for rate limits, all bounded so a flaky API costs seconds, never the job.
 */
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';

/** The client type every GitHub edge takes as a parameter. */
export type GitHubClient = ReturnType<typeof getOctokit>;

/** Where the client reports retries and rate-limit waits. */
export interface OctokitLog {
  debug(message: string): void;
  warn(message: string): void;
}

export interface RetryPolicy {
  /** Retries after a 5xx or network error (not for 400, 401, 403, 404, 410, 422, 429, 451). Default 3. */
  retries?: number;
  /** Delay unit: retry n waits n² × this. Default 1000 ms (1 s, 4 s, 9 s). */
  baseDelayMs?: number;
}

export interface RateLimitPolicy {
  /** Waits per request for a rate limit before giving up. Default 2. */
  maxRetries?: number;
  /** A wait longer than this many seconds (retry-after, or until the reset) is not attempted. Default 60. */
  maxWaitSeconds?: number;
  /** Milliseconds per second of GitHub's retry-after/reset; tests shrink it. Default 1000. */
  secondMs?: number;
  /** Minimum spacing between writes, as GitHub asks of integrations. Default 1000 ms. */
  writeSpacingMs?: number;
}

export interface CreateOctokitOptions {
  token: string;
  /** The REST API root: `GITHUB_API_URL` (GitHub Enterprise Server: `https://HOST/api/v3`). Defaults to the env. */
  baseUrl?: string;
  userAgent?: string;
  log?: OctokitLog;
  retry?: RetryPolicy;
  rateLimit?: RateLimitPolicy;
  /** Each attempt of each request is aborted after this long (a hung server must not hold the job). Default 30 s. */
  requestTimeoutMs?: number;
}

// 429 is the throttling plugin's to handle (with retry-after); retrying it here too would double the wait.
const DO_NOT_RETRY = [400, 401, 403, 404, 410, 422, 429, 451];

const silent: OctokitLog = { debug: () => undefined, warn: () => undefined };

/**
 * A limiter with the shape the throttling plugin expects of its write groups (`key(id).schedule(opts, fn, ...args)`)
 * that spaces jobs by `minMs`. The plugin's own groups are module-wide with fixed 1 s / 3 s spacing; owning them
 * keeps clients independent and the spacing configurable.
 */
function spacedGroup(minMs: number): {
  key(id: string): { schedule: (...args: unknown[]) => Promise<unknown> };
} {
  let tail: Promise<unknown> = Promise.resolve();
  let nextAt = 0;
  const schedule = (...args: unknown[]): Promise<unknown> => {
    const [first, ...rest] = args;
    const [fn, fnArgs] = typeof first === 'function' ? [first, rest] : [rest[0], rest.slice(1)];
    const run = tail.then(async () => {
      const wait = nextAt - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      nextAt = Date.now() + minMs;
      return (fn as (...a: unknown[]) => unknown)(...fnArgs);
    });
    tail = run.catch(() => undefined);
    return run;
  };
  return { key: () => ({ schedule }) };
}

/**
 * Creates the REST client: retries 5xx and network errors with bounded backoff, honours `retry-after` for secondary
 * rate limits and `x-ratelimit-reset` for the primary limit (each wait bounded), and never retries a 403
 * "Resource not accessible by integration", a 404 or a 422. The base URL comes from the caller or
 * `GITHUB_API_URL`, never from a hard-coded host.
 */
export function createOctokit(options: CreateOctokitOptions): GitHubClient {
  const baseUrl = (options.baseUrl ?? process.env['GITHUB_API_URL'] ?? '').replace(/\/+$/, '');
  if (!baseUrl) throw new Error('No GitHub API URL: pass baseUrl or set GITHUB_API_URL.');
  if (!options.token)
    throw new Error('No GitHub token: pass the `github-token` input (default: GITHUB_TOKEN).');
  const log = options.log ?? silent;
  const retries = options.retry?.retries ?? 3;
  const baseDelayMs = options.retry?.baseDelayMs ?? 1000;
  const maxRateRetries = options.rateLimit?.maxRetries ?? 2;
  const maxWaitSeconds = options.rateLimit?.maxWaitSeconds ?? 60;
  const secondMs = options.rateLimit?.secondMs ?? 1000;
  const spacing = options.rateLimit?.writeSpacingMs ?? 1000;

  const onLimit =
    (kind: string) =>
    (
      retryAfter: number,
      request: { method: string; url: string },
      _octokit: unknown,
      retryCount: number,
    ): boolean => {
      const what = `${request.method} ${request.url}`;
      if (retryCount >= maxRateRetries || retryAfter > maxWaitSeconds) {
        log.warn(
          `GitHub ${kind} rate limit on ${what}; not waiting ${retryAfter} s (gave up after ${retryCount} waits).`,
        );
        return false;
      }
      log.warn(`GitHub ${kind} rate limit on ${what}; retrying in ${retryAfter} s.`);
      return true;
    };

  // Separate groups: a comment POST passes through both, and one shared queue would space it twice.
  const writes = spacedGroup(spacing) as never;
  const notifications = spacedGroup(spacing) as never;
  // A fresh deadline for every attempt. Registered as the first plugin, so its hook sits inside the retry plugin's
  // wrapper and runs again for each retry (a signal set once, outside, would fail every retry at once). An aborted
  // attempt is a network error (status 500), which the retry plugin retries, bounded.
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const deadline = (octokit: {
    hook: { before: (name: 'request', fn: (o: { request?: object }) => void) => void };
  }) => {
    octokit.hook.before('request', (o) => {
      o.request = { ...o.request, signal: AbortSignal.timeout(timeoutMs) };
    });
  };
  const client = getOctokit(
    options.token,
    {
      baseUrl,
      userAgent: options.userAgent ?? 'memdelta',
      log: {
        debug: (m: string) => log.debug(m),
        info: (m: string) => log.debug(m),
        warn: (m: string) => log.warn(m),
        error: (m: string) => log.warn(m),
      },
      retry: { retries, retryAfterBaseValue: baseDelayMs, doNotRetry: DO_NOT_RETRY },
      throttle: {
        id: `memdelta-${Math.random().toString(36).slice(2)}`,
        retryAfterBaseValue: secondMs,
        write: writes,
        notifications,
        onRateLimit: onLimit('primary'),
        onSecondaryRateLimit: onLimit('secondary'),
      },
    },
    deadline as never,
    retry,
    throttling,
  );
  return client;
}
