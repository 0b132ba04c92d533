/**
 * The base-report cache. tracemalloc's counts are deterministic for the same code, interpreter, probe and
 * settings, so a base side measured once can be reused by every later compare against the same base commit. An
 * entry is a probe report file keyed by the base SHA and a hash of everything that shapes the measurement; it is
 * read back like any probe report (untrusted, size-capped, validated), and an entry that fails is measured again
 * and overwritten. Only successful runs are stored; peak RSS is never cached (it is not deterministic).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Plan, Scenario } from '../plan/types.js';
import type { ProbeReport, PytestRun } from '../report/types.js';
import { childEnv } from './env.js';
import { writeAtomic } from './load-plan.js';
import { runBounded } from './process.js';
import { readProbeReport, readPytestRun } from './read-report.js';

/** What identifies the interpreter and the probe; asked once per compare. */
export interface CacheEnvironment {
  /** `sys.version` of the plan's interpreter (and its path, as given). */
  python: string;
  /** The probe's `__version__` and a hash of its source files. */
  probe: string;
}

/** One probe pass of one scenario on base, as the cache key sees it. */
export interface CachePass {
  pass: 'cheap' | 'detail';
  frames: number;
  peakSites: boolean;
  /** For a pytest run: what else shapes it (the shard, the tests measured in detail and their hints). */
  selection?: string;
}

/** The default cache folder: `$XDG_CACHE_HOME/memdelta`, else `~/.cache/memdelta`. */
export function defaultCacheDir(env: Record<string, string | undefined>): string {
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg && xdg.startsWith('/')) return join(xdg, 'memdelta');
  return join(env['HOME'] || homedir(), '.cache', 'memdelta');
}

/**
 * The key of a base pass: the base SHA and a SHA-256 of the resolved plan for that scenario (target, arguments,
 * setup callable and command, environment, iterations, warm-up, frames, pass kind) with the interpreter's version
 * and the probe's fingerprint. The scenario's name, budgets, noise floor, time and memory limits are not in it:
 * they do not change what a successful run measures.
 */
export function baseCacheKey(
  baseSha: string,
  plan: Pick<Plan, 'python' | 'setup' | 'env'>,
  scenario: Scenario,
  pass: CachePass,
  environment: CacheEnvironment,
): string {
  const shape = {
    v: 1,
    target: scenario.target,
    setupCallable: scenario.setupCallable ?? null,
    setup: plan.setup ?? null,
    env: Object.entries(plan.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    iterations: scenario.iterations,
    warmup: scenario.warmup,
    frames: pass.frames,
    pass: pass.pass,
    peakSites: pass.peakSites,
    ...(pass.selection !== undefined ? { selection: pass.selection } : {}),
    interpreter: plan.python,
    python: environment.python,
    probe: environment.probe,
  };
  const hash = createHash('sha256').update(JSON.stringify(shape)).digest('hex');
  return `${baseSha}-${hash.slice(0, 32)}`;
}

/** A folder of cached base reports. */
export class BaseCache {
  constructor(readonly dir: string) {}

  private path(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  /** The cached report for `key`, or undefined when there is none or it is not a valid, successful report. */
  async read(key: string): Promise<ProbeReport | undefined> {
    const got = await readProbeReport(this.path(key));
    if (!got.ok) return undefined;
    const r = got.report;
    return r.error === null && r.exit_code === 0 && r.settings.mode === 'traced' ? r : undefined;
  }

  /**
   * The cached pytest run for `key`, or undefined when there is none or it is not a valid run in which every test
   * passed (a failed or flaky run is measured again).
   */
  async readPytest(key: string): Promise<PytestRun | undefined> {
    const got = await readPytestRun(this.path(key));
    if (!got.ok) return undefined;
    const r = got.report;
    return r.exit_code === 0 && r.errors.length === 0 ? r : undefined;
  }

  /** Stores a successful report; a cache that cannot be written is skipped (the compare does not depend on it). */
  async write(key: string, report: ProbeReport | PytestRun): Promise<boolean> {
    try {
      await mkdir(this.dir, { recursive: true });
      await writeAtomic(this.path(key), JSON.stringify(report));
      return true;
    } catch {
      return false;
    }
  }
}

/** The probe's version and a hash of its source files: an edited probe never reuses old reports. */
export async function probeFingerprint(probeDir: string): Promise<string> {
  const pkg = join(probeDir, 'memdelta_probe');
  const names = (await readdir(pkg)).filter((n) => n.endsWith('.py')).sort();
  const hash = createHash('sha256');
  let version = '?';
  for (const n of names) {
    const text = await readFile(join(pkg, n));
    if (n === '__init__.py') version = /__version__\s*=\s*"([^"]+)"/.exec(text.toString())?.[1] ?? '?';
    hash.update(n).update('\0').update(text).update('\0');
  }
  return `${version}+${hash.digest('hex').slice(0, 16)}`;
}

/**
 * Asks the interpreter for its `sys.version` (once per compare). Undefined when it cannot be run: the compare
 * then goes without the cache, and the probe runs report the problem as usual.
 */
export async function interpreterVersion(
  python: string,
  cwd: string,
  parentEnv?: Record<string, string | undefined>,
): Promise<string | undefined> {
  const o = await runBounded({
    file: python,
    args: ['-c', 'import sys; print(sys.version)'],
    cwd,
    env: childEnv(parentEnv !== undefined ? { parent: parentEnv } : {}),
    timeoutMs: 30_000,
    graceMs: 1000,
  });
  const v = o.stdoutTail.trim();
  return o.kind === 'ok' && v !== '' ? v : undefined;
}
