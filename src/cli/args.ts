/**
 * Command-line parsing for `memdelta`. Hand-written rather than `util.parseArgs` because a target's own words
 * (`--run "-m pkg.mod --flag"`) must reach the target verbatim, never be taken for memdelta's options.
 */
import { parseShard } from '../plan/shard.js';

/** Raised for a command line that cannot be understood; printed with the usage hint, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The parsed options of `memdelta compare`. */
export interface CompareArgs {
  repo: string;
  base?: string;
  head: string;
  config?: string;
  run?: string;
  /** `--pytest ARGS`: the tests to measure, each as its own scenario. */
  pytest?: string;
  name?: string;
  iterations?: string;
  warmup?: string;
  setup?: string;
  python?: string;
  frames?: string;
  budgets: string[];
  minDelta?: string;
  timeout?: string;
  memoryLimit?: string;
  /** `--cache DIR`: the base-report cache folder; undefined: the default folder. */
  cache?: string;
  /** `--no-cache`: measure base every time. */
  noCache: boolean;
  /** `--shard i/n`: only this slice of the scenarios (checked when parsed). */
  shard?: string;
  json?: string;
  markdown?: string;
  sequential: boolean;
  rss: boolean;
  color?: boolean;
  quiet: boolean;
}

/** A parsed command line. */
export type Command =
  | { command: 'compare'; args: CompareArgs }
  | { command: 'render'; report: string; format: 'markdown' | 'terminal'; color?: boolean }
  | { command: 'aggregate'; reports: string[]; json?: string; markdown?: string; color?: boolean }
  | { command: 'probe'; python: string; rest: string[] }
  | { command: 'help' }
  | { command: 'version' };

export const USAGE = `Usage:
  memdelta compare [--repo DIR] [--base REF] [--head REF]
                   [--config FILE | --run TARGET [--name NAME] [--iterations N] [--warmup N]
                    | --pytest ARGS]
                   [--setup CMD] [--python PATH] [--frames N] [--budget RULE]... [--min-delta FLOOR]
                   [--timeout SECONDS] [--memory-limit SIZE] [--json FILE] [--markdown FILE]
                   [--cache DIR | --no-cache] [--shard I/N] [--sequential] [--rss] [--no-color] [--quiet]
  memdelta aggregate [--json FILE] [--markdown FILE] [--no-color] REPORT...
  memdelta render --report FILE [--markdown | --terminal] [--no-color]
  memdelta probe [--python PATH] -- PROBE-ARGS...
  memdelta --help | --version

TARGET: "path/to/script.py [args]" | "-m package.module [args]" | package.module:function (quote it as one word)
ARGS:   pytest's selection as one word, e.g. "tests/memory -k 'not slow'": each test is its own scenario
RULE:   "[warn|fail] metric: value", e.g. "peak: +5%", "warn retained: +512KiB", "peak-max: 1GiB", "leak: 16KiB/iter"
Exit status: 0 within budget, 1 over budget, 2 could not compare.`;

const COMPARE_VALUES: Record<string, keyof CompareArgs> = {
  '--repo': 'repo',
  '--base': 'base',
  '--head': 'head',
  '--config': 'config',
  '--run': 'run',
  '--pytest': 'pytest',
  '--name': 'name',
  '--iterations': 'iterations',
  '--warmup': 'warmup',
  '--setup': 'setup',
  '--python': 'python',
  '--frames': 'frames',
  '--min-delta': 'minDelta',
  '--timeout': 'timeout',
  '--memory-limit': 'memoryLimit',
  '--cache': 'cache',
  '--shard': 'shard',
  '--json': 'json',
  '--markdown': 'markdown',
};

/** Splits `--opt=value` into option and value; other words pass unchanged. */
function splitEquals(word: string): [string, string | undefined] {
  const i = word.indexOf('=');
  return word.startsWith('--') && i > 2 ? [word.slice(0, i), word.slice(i + 1)] : [word, undefined];
}

function parseCompare(argv: readonly string[]): CompareArgs {
  const args: CompareArgs = {
    repo: '.',
    head: 'HEAD',
    budgets: [],
    sequential: false,
    noCache: false,
    rss: false,
    quiet: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [opt, inline] = splitEquals(argv[i] as string);
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${opt} needs a value`);
      return v;
    };
    const key = COMPARE_VALUES[opt];
    if (key) {
      if (args[key] !== undefined && key !== 'repo' && key !== 'head')
        throw new UsageError(`${opt} is given twice`);
      (args as unknown as Record<string, string>)[key] = value();
      continue;
    }
    switch (opt) {
      case '--budget':
        args.budgets.push(value());
        break;
      case '--no-cache':
        args.noCache = true;
        break;
      case '--sequential':
        args.sequential = true;
        break;
      case '--rss':
        args.rss = true;
        break;
      case '--no-color':
        args.color = false;
        break;
      case '--color':
        args.color = true;
        break;
      case '--quiet':
      case '-q':
        args.quiet = true;
        break;
      default:
        throw new UsageError(`unknown option ${JSON.stringify(opt.slice(0, 60))} for compare`);
    }
  }
  if ([args.config, args.run, args.pytest].filter((v) => v !== undefined).length > 1)
    throw new UsageError('use one of --config, --run and --pytest');
  if (args.shard !== undefined) {
    try {
      parseShard(args.shard);
    } catch (e) {
      throw new UsageError(`--shard: ${(e as Error).message}`);
    }
  }
  if (args.cache !== undefined && args.noCache)
    throw new UsageError('use either --cache DIR or --no-cache, not both');
  return args;
}

function parseAggregate(argv: readonly string[]): Command {
  const reports: string[] = [];
  const out: { json?: string; markdown?: string; color?: boolean } = {};
  for (let i = 0; i < argv.length; i++) {
    const [opt, inline] = splitEquals(argv[i] as string);
    if (opt === '--json' || opt === '--markdown') {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${opt} needs a value`);
      out[opt === '--json' ? 'json' : 'markdown'] = v;
    } else if (opt === '--no-color') out.color = false;
    else if (opt === '--') reports.push(...argv.slice(i + 1));
    else if (opt.startsWith('-'))
      throw new UsageError(`unknown option ${JSON.stringify(opt.slice(0, 60))} for aggregate`);
    else reports.push(opt);
    if (opt === '--') break;
  }
  if (reports.length === 0)
    throw new UsageError('aggregate needs the partial reports: memdelta aggregate --json OUT REPORT...');
  return { command: 'aggregate', reports, ...out };
}

/** Parses `memdelta` arguments (without `node` and the script path). */
export function parseArgs(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help')
    return { command: 'help' };
  if (first === '--version' || first === '-V') return { command: 'version' };
  if (first === 'compare') return { command: 'compare', args: parseCompare(rest) };
  if (first === 'render') {
    let report: string | undefined;
    let format: 'markdown' | 'terminal' = 'terminal';
    let color: boolean | undefined;
    for (let i = 0; i < rest.length; i++) {
      const [opt, inline] = splitEquals(rest[i] as string);
      if (opt === '--report') {
        report = inline ?? rest[++i];
        if (report === undefined) throw new UsageError('--report needs a value');
      } else if (opt === '--markdown') format = 'markdown';
      else if (opt === '--terminal') format = 'terminal';
      else if (opt === '--no-color') color = false;
      else throw new UsageError(`unknown option ${JSON.stringify(opt.slice(0, 60))} for render`);
    }
    if (!report) throw new UsageError('render needs --report FILE (a JSON compare report)');
    return { command: 'render', report, format, ...(color !== undefined ? { color } : {}) };
  }
  if (first === 'aggregate') return parseAggregate(rest);
  if (first === 'probe') {
    let python = 'python3';
    let i = 0;
    for (; i < rest.length; i++) {
      const [opt, inline] = splitEquals(rest[i] as string);
      if (opt === '--python') {
        const v = inline ?? rest[++i];
        if (v === undefined) throw new UsageError('--python needs a value');
        python = v;
      } else if (opt === '--') {
        i++;
        break;
      } else break;
    }
    return { command: 'probe', python, rest: rest.slice(i) };
  }
  throw new UsageError(
    `unknown command ${JSON.stringify(first.slice(0, 60))} (use compare, aggregate, render or probe)`,
  );
}
