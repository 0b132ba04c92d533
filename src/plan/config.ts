/**
 * `.memdelta.yml` and command-line flags → a resolved {@link Plan}. The config file comes from the repository (and
 * so possibly from the pull request): it is size-capped, parsed with alias expansion bounded (no YAML bombs), and
 * validated key by key with errors that name the file, the line and the key.
 */
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { BudgetError, DEFAULT_NOISE_FLOOR, defaultRules, layerRules, makeRule, parseRule } from './budget.js';
import { parsePytestTarget, parseTarget, TargetError } from './target.js';
import type { BudgetRule, NoiseFloor, Plan, Scenario } from './types.js';
import { parsePercent, parseSize, UnitError } from './units.js';

/** Largest config accepted; real ones are a few hundred bytes. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Frame depth of the cheap pass (see docs/probe.md for the measurements behind it). */
export const DEFAULT_FRAMES = 4;
/** Frame depth of the detail pass, used only where attribution needs it. */
export const DEFAULT_DETAIL_FRAMES = 16;
export const DEFAULT_ITERATIONS = 20;
export const DEFAULT_WARMUP = 2;
export const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const MAX_SCENARIOS = 500;

/** Raised for a config or flag that cannot be used; the message names the file, line and key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Flags of `memdelta compare` (and the action's inputs) that shape the plan; all optional, undefined = not given. */
export interface PlanFlags {
  /** `--run TARGET`: the target as one string (split like a shell would, without expansion) or as words. */
  run?: string | string[];
  /** `--pytest ARGS`: a pytest selection; each test becomes a scenario. */
  pytest?: string | string[];
  name?: string;
  iterations?: string | number;
  warmup?: string | number;
  /** Per-side shell setup command. */
  setup?: string;
  python?: string;
  frames?: string | number;
  /** Rules from `--budget` (each `[warn|fail] metric: value`). */
  budgets?: string[];
  minDelta?: string;
  timeout?: string;
  /** `--memory-limit`: a size such as `4GiB`. */
  memoryLimit?: string;
}

const scalar = z.union([z.string(), z.number()]);
const budgetsSchema = z.union([
  z.array(z.string()),
  z.record(z.string(), z.union([scalar, z.record(z.string(), scalar)])),
]);
const scenarioSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  run: z.union([z.string().min(1), z.array(z.string()).min(1)]).optional(),
  pytest: z.union([z.string().min(1), z.array(z.string()).min(1)]).optional(),
  args: z.array(scalar).max(1000).optional(),
  iterations: z.number().int().min(1).max(100_000).optional(),
  warmup: z.number().int().min(0).max(100_000).optional(),
  'setup-callable': z.string().min(1).optional(),
  budgets: budgetsSchema.optional(),
  'min-delta': scalar.optional(),
  timeout: scalar.optional(),
  'memory-limit': scalar.optional(),
});
const configSchema = z.strictObject({
  python: z.string().min(1).optional(),
  setup: z.string().optional(),
  frames: z.number().int().min(1).max(100).optional(),
  'detail-frames': z.number().int().min(1).max(100).optional(),
  env: z.union([z.array(z.string()), z.record(z.string(), scalar)]).optional(),
  defaults: z
    .strictObject({
      budgets: budgetsSchema.optional(),
      'min-delta': scalar.optional(),
      iterations: z.number().int().min(1).max(100_000).optional(),
      warmup: z.number().int().min(0).max(100_000).optional(),
      timeout: scalar.optional(),
      'memory-limit': scalar.optional(),
    })
    .optional(),
  scenarios: z.array(scenarioSchema).min(1).max(MAX_SCENARIOS),
});
type ConfigData = z.infer<typeof configSchema>;

/** Where in the file a key sits, for messages: `file:line: key`. */
type Locate = (path: readonly (string | number)[]) => string;

function pathText(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function locator(file: string, doc: Document | undefined, lc: LineCounter | undefined): Locate {
  return (path) => {
    let line: number | undefined;
    if (doc && lc) {
      for (let n = path.length; n > 0 && line === undefined; n--) {
        const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        if (node && typeof node === 'object' && node.range) line = lc.linePos(node.range[0]).line;
      }
    }
    const key = pathText(path);
    return `${file}${line !== undefined ? `:${line}` : ''}${key ? `: ${key}` : ''}`;
  };
}

function wrap<T>(at: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UnitError || e instanceof BudgetError || e instanceof TargetError) {
      throw new ConfigError(`${at}: ${e.message}`);
    }
    throw e;
  }
}

/** Parses `min-delta`: `8KiB`, `0.1%`, or both (`8KiB 0.1%`, `8KiB,0.1%`); a missing half keeps the default. */
export function parseNoiseFloor(input: string | number, base: NoiseFloor = DEFAULT_NOISE_FLOOR): NoiseFloor {
  if (typeof input === 'number') return { ...base, bytes: parseSize(String(input)) };
  const parts = input.split(/[\s,]+/).filter((p) => p !== '');
  if (parts.length === 0 || parts.length > 2)
    throw new UnitError(`${JSON.stringify(input)} is not a noise floor (example: "8KiB 0.1%")`);
  const out = { ...base };
  for (const p of parts) {
    if (p.endsWith('%')) out.percent = parsePercent(p);
    else out.bytes = parseSize(p);
  }
  return out;
}

/** Parses a timeout: seconds as a number, or `90s`, `10m`, `1h`. Returns milliseconds. */
export function parseTimeout(input: string | number): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/.exec(String(input).trim());
  const unit = { s: 1000, m: 60_000, h: 3_600_000 }[(m?.[2] ?? 's') as 's' | 'm' | 'h'];
  const ms = m ? Number(m[1]) * unit : NaN;
  if (!Number.isFinite(ms) || ms <= 0 || ms > 24 * 3_600_000) {
    throw new UnitError(
      `${JSON.stringify(String(input))} is not a timeout (examples: 300, "90s", "10m"; at most 24h)`,
    );
  }
  return Math.round(ms);
}

/** Smallest memory limit accepted: below it the interpreter itself cannot start. */
export const MIN_MEMORY_LIMIT = 64 * 1024 * 1024;

/** Parses a memory limit such as `4GiB` or `512MiB` into bytes (at least {@link MIN_MEMORY_LIMIT}). */
export function parseMemoryLimit(input: string | number): number {
  const bytes = parseSize(String(input).trim());
  if (bytes < MIN_MEMORY_LIMIT) {
    throw new UnitError(
      `${JSON.stringify(String(input))} is below the smallest memory limit, 64MiB (the interpreter needs that much to start)`,
    );
  }
  return bytes;
}

function parseCount(v: string | number | undefined, what: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > 100_000) {
    throw new ConfigError(
      `${what}: ${JSON.stringify(String(v))} must be a whole number from ${min} to 100000`,
    );
  }
  return n;
}

/** Rules from a `budgets:` value: a list of written rules, or a map `metric: value` with optional `warn:`/`fail:` maps. */
function rulesFrom(
  value: z.infer<typeof budgetsSchema>,
  at: Locate,
  path: (string | number)[],
): BudgetRule[] {
  if (Array.isArray(value)) return value.map((r, i) => wrap(at([...path, i]), () => parseRule(r)));
  const rules: BudgetRule[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (key === 'warn' || key === 'fail') {
      if (typeof v !== 'object')
        throw new ConfigError(`${at([...path, key])}: must be a map of metric: value`);
      for (const [metric, limit] of Object.entries(v)) {
        rules.push(wrap(at([...path, key, metric]), () => makeRule(metric, String(limit), key, '')));
      }
    } else {
      if (typeof v === 'object') throw new ConfigError(`${at([...path, key])}: must be a value like "+5%"`);
      rules.push(wrap(at([...path, key]), () => makeRule(key, String(v), 'fail', '')));
    }
  }
  return rules;
}

/**
 * Parses the text of `.memdelta.yml` into validated data.
 * @throws ConfigError naming the file, line and key of the first problem
 */
function parseConfigText(text: string, file: string): { data: ConfigData; at: Locate } {
  if (text.length > MAX_CONFIG_BYTES) {
    throw new ConfigError(
      `${file}: is ${text.length} bytes, over the ${MAX_CONFIG_BYTES}-byte limit for a config`,
    );
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const at = locator(file, doc, lc);
  const err = doc.errors[0];
  if (err) {
    const line = lc.linePos(err.pos[0]).line;
    throw new ConfigError(`${file}${line ? `:${line}` : ''}: ${err.message.split('\n')[0]}`);
  }
  let raw: unknown;
  try {
    // Bounded alias expansion: a billion-laughs document fails here instead of eating memory.
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!isMap(doc.contents) && !(isScalar(doc.contents) && doc.contents.value === null)) {
    throw new ConfigError(`${file}: must be a map with a "scenarios" list`);
  }
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = (issue?.path ?? []) as (string | number)[];
    const msg =
      issue?.code === 'unrecognized_keys'
        ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`
        : (issue?.message ?? 'invalid');
    throw new ConfigError(`${at(path)}: ${msg}`);
  }
  const names = new Map<string, number>();
  parsed.data.scenarios.forEach((s, i) => {
    if ((s.run === undefined) === (s.pytest === undefined)) {
      throw new ConfigError(
        `${at(['scenarios', i])}: a scenario has either "run" (a script, module or callable) or "pytest" (tests)`,
      );
    }
    if (s.run !== undefined && s.name === undefined) {
      throw new ConfigError(`${at(['scenarios', i])}: a "run" scenario needs a "name"`);
    }
    if (s.pytest !== undefined) {
      for (const key of ['iterations', 'warmup', 'setup-callable', 'args'] as const) {
        if (s[key] !== undefined) {
          throw new ConfigError(
            `${at(['scenarios', i, key])}: not for a pytest scenario${key === 'iterations' || key === 'warmup' ? ' (mark the test: @pytest.mark.memdelta(iterations=20))' : ''}`,
          );
        }
      }
    }
    const name = scenarioName(s);
    if (names.has(name)) {
      throw new ConfigError(
        `${at(['scenarios', i, 'name'])}: scenario name ${JSON.stringify(name)} is used twice`,
      );
    }
    names.set(name, i);
  });
  return { data: parsed.data, at };
}

/** A scenario's name: its own, or for pytest `pytest <selection>`. */
function scenarioName(s: ConfigData['scenarios'][number]): string {
  if (s.name !== undefined) return s.name;
  const words = typeof s.pytest === 'string' ? s.pytest.trim() : (s.pytest ?? []).join(' ');
  return `pytest ${words}`.slice(0, 200);
}

function envFrom(
  data: ConfigData['env'],
  parentEnv: Record<string, string | undefined>,
): Record<string, string> {
  if (!data) return {};
  if (Array.isArray(data)) {
    const out: Record<string, string> = {};
    for (const name of data) {
      const v = parentEnv[name];
      if (v !== undefined) out[name] = v;
    }
    return out;
  }
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, String(v)]));
}

/** Options for {@link resolvePlan}. */
export interface ResolveOptions {
  /** Text of the config file and its name for messages; omit when `flags.run` defines the one scenario. */
  config?: { text: string; file: string };
  flags?: PlanFlags;
  /** memdelta's own environment, only to look up names the config asks to pass through. */
  parentEnv?: Record<string, string | undefined>;
}

/**
 * Builds the plan. Precedence, lowest first: built-in defaults < the config's `defaults` < flags (`--budget`,
 * `--iterations`, ...) < a scenario's own keys. For budgets the unit of replacement is (level, metric): a scenario
 * that sets `peak` keeps the other rules.
 * @throws ConfigError with a precise message
 */
export function resolvePlan(opts: ResolveOptions): Plan {
  const flags = opts.flags ?? {};
  const cliRules = (flags.budgets ?? []).map((r) => wrap('--budget', () => parseRule(r)));
  const cliFloor =
    flags.minDelta !== undefined
      ? wrap('--min-delta', () => parseNoiseFloor(flags.minDelta as string))
      : undefined;
  const cliTimeout =
    flags.timeout !== undefined ? wrap('--timeout', () => parseTimeout(flags.timeout as string)) : undefined;
  const cliMemory =
    flags.memoryLimit !== undefined
      ? wrap('--memory-limit', () => parseMemoryLimit(flags.memoryLimit as string))
      : undefined;
  const cliIterations = parseCount(flags.iterations, '--iterations', 1);
  const cliWarmup = parseCount(flags.warmup, '--warmup', 0);
  const cliFrames = parseCount(flags.frames, '--frames', 1);

  if ([flags.run, flags.pytest, opts.config].filter((v) => v !== undefined).length > 1)
    throw new ConfigError('use one of --config, --run and --pytest');
  if (!flags.run && !flags.pytest && !opts.config)
    throw new ConfigError('nothing to run: pass --run TARGET, --pytest ARGS or --config FILE');

  if (flags.run || flags.pytest) {
    const target = flags.pytest
      ? wrap('--pytest', () => parsePytestTarget(flags.pytest as string | string[]))
      : wrap('--run', () => parseTarget(flags.run as string | string[]));
    const callable = target.kind === 'callable';
    const name =
      flags.name?.trim() || (target.kind === 'pytest' ? `pytest ${target.spec}`.slice(0, 200) : target.spec);
    if (name.length > 200) throw new ConfigError('--name: at most 200 characters');
    const scenario: Scenario = {
      name,
      target,
      iterations: callable ? (cliIterations ?? DEFAULT_ITERATIONS) : 1,
      warmup: callable ? (cliWarmup ?? DEFAULT_WARMUP) : 0,
      budgets: layerRules(defaultRules(), cliRules),
      minDelta: cliFloor ?? DEFAULT_NOISE_FLOOR,
      timeoutMs: cliTimeout ?? DEFAULT_TIMEOUT_MS,
      ...(cliMemory !== undefined ? { memoryLimit: cliMemory } : {}),
    };
    const frames = cliFrames ?? DEFAULT_FRAMES;
    return {
      python: flags.python ?? 'python3',
      ...(flags.setup ? { setup: flags.setup } : {}),
      frames,
      detailFrames: Math.max(frames, DEFAULT_DETAIL_FRAMES),
      env: {},
      scenarios: [scenario],
    };
  }

  const { text, file } = opts.config as { text: string; file: string };
  const { data, at } = parseConfigText(text, file);
  const d = data.defaults ?? {};
  const defaultFloor =
    d['min-delta'] !== undefined
      ? wrap(at(['defaults', 'min-delta']), () => parseNoiseFloor(d['min-delta'] as string))
      : DEFAULT_NOISE_FLOOR;
  const defaultTimeout =
    d.timeout !== undefined
      ? wrap(at(['defaults', 'timeout']), () => parseTimeout(d.timeout as string))
      : DEFAULT_TIMEOUT_MS;
  const defaultMemory =
    d['memory-limit'] !== undefined
      ? wrap(at(['defaults', 'memory-limit']), () => parseMemoryLimit(d['memory-limit'] as string))
      : undefined;
  const configRules = d.budgets ? rulesFrom(d.budgets, at, ['defaults', 'budgets']) : [];

  const scenarios = data.scenarios.map((s, i): Scenario => {
    const p = (k: string) => at(['scenarios', i, k]);
    const target =
      s.pytest !== undefined
        ? wrap(p('pytest'), () => parsePytestTarget(s.pytest as string | string[]))
        : wrap(p('run'), () => parseTarget(s.run as string | string[], (s.args ?? []).map(String)));
    const callable = target.kind === 'callable';
    if (s['setup-callable'] && !callable) {
      throw new ConfigError(
        `${p('setup-callable')}: only a callable target (package.module:function) takes a setup callable`,
      );
    }
    if (s['setup-callable'] && !/^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$/.test(s['setup-callable'])) {
      throw new ConfigError(`${p('setup-callable')}: must be package.module:function`);
    }
    const own = s.budgets ? rulesFrom(s.budgets, at, ['scenarios', i, 'budgets']) : [];
    const scenario: Scenario = {
      name: scenarioName(s),
      target,
      iterations: callable ? (s.iterations ?? cliIterations ?? d.iterations ?? DEFAULT_ITERATIONS) : 1,
      warmup: callable ? (s.warmup ?? cliWarmup ?? d.warmup ?? DEFAULT_WARMUP) : 0,
      ...(s['setup-callable'] ? { setupCallable: s['setup-callable'] } : {}),
      budgets: layerRules(defaultRules(), configRules, cliRules, own),
      minDelta:
        s['min-delta'] !== undefined
          ? wrap(p('min-delta'), () => parseNoiseFloor(s['min-delta'] as string, cliFloor ?? defaultFloor))
          : (cliFloor ?? defaultFloor),
      timeoutMs:
        s.timeout !== undefined
          ? wrap(p('timeout'), () => parseTimeout(s.timeout as string))
          : (cliTimeout ?? defaultTimeout),
    };
    const memory =
      s['memory-limit'] !== undefined
        ? wrap(p('memory-limit'), () => parseMemoryLimit(s['memory-limit'] as string))
        : (cliMemory ?? defaultMemory);
    if (memory !== undefined) scenario.memoryLimit = memory;
    return scenario;
  });
  const frames = cliFrames ?? data.frames ?? DEFAULT_FRAMES;
  return {
    python: flags.python ?? data.python ?? 'python3',
    ...((flags.setup ?? data.setup) ? { setup: flags.setup ?? data.setup } : {}),
    frames,
    detailFrames: Math.max(frames, data['detail-frames'] ?? DEFAULT_DETAIL_FRAMES),
    env: envFrom(data.env, opts.parentEnv ?? {}),
    scenarios,
  };
}
