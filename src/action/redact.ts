/**
 * Secrets the action holds never reach what it publishes. The benchmark cannot read the token from its environment,
 * but it can find it elsewhere (actions/checkout persists it in the repository's git config) and print it; the
 * runner masks it in the log only, not in the comment, the job summary, the report file or the outputs.
 */

/** Replacement for a secret. */
export const MASK = '***';

/**
 * The values to redact: the token input and the token variables of the runner, each also in the
 * `x-access-token:<token>` base64 form that actions/checkout writes into the git config. Short values are ignored
 * (they would blank out ordinary words).
 */
export function secretValues(env: Record<string, string | undefined>, token: string | undefined): string[] {
  const raw = [
    token,
    env['GITHUB_TOKEN'],
    env['GH_TOKEN'],
    env['ACTIONS_RUNTIME_TOKEN'],
    env['ACTIONS_ID_TOKEN_REQUEST_TOKEN'],
  ].filter((v): v is string => typeof v === 'string' && v.trim().length >= 8);
  const all = new Set<string>();
  for (const v of raw) {
    all.add(v);
    all.add(Buffer.from(`x-access-token:${v}`).toString('base64'));
  }
  // Longest first, so a secret containing another is replaced whole.
  return [...all].sort((a, b) => b.length - a.length);
}

/** A deep copy of `value` with every occurrence of every secret in its strings (and keys) replaced by {@link MASK}. */
export function redact<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const clean = (s: string): string => secrets.reduce((acc, x) => acc.split(x).join(MASK), s);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return clean(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [clean(k), walk(x)]));
    }
    return v;
  };
  return walk(value) as T;
}
