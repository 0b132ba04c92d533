/**
 * Data shapes shared by every stage: the probe report written by `py-probe` (schema `memdelta/probe@1`,
 * documented in docs/report-schema.md) and the compare report (`memdelta/compare@1`, fixed in DESIGN.md).
 * All sizes are integers in bytes.
 */

/**
 * What the probe ran: `path/to/script.py`, `-m package.module`, `package.module:function`, or a pytest selection
 * (`pytest: "tests -k memory"`), whose tests are each reported as their own scenario.
 */
export type TargetKind = 'script' | 'module' | 'callable' | 'pytest';

/** One allocation site as the probe reports it. */
export interface ProbeSite {
  /** Repo-relative path for project files, `site-packages/<dist>/...`, `<stdlib>/...`, or `<imports>`/`<unknown>`. */
  file: string;
  /** Enclosing qualname found with `ast` (`<module>` at module level). */
  function: string;
  /** 1-based line in this commit; for display and links only, never for identity. */
  line: number;
  /** The stripped source line as written (display). */
  code: string;
  /** Normalised statement text (no comments, no whitespace; header only for compound statements): identity. */
  stmt: string;
  /** Occurrence index among sites with the same file, function and stmt, in line order: identity. */
  ordinal: number;
  /** Innermost frame (`file:line`) when it is not the site itself, e.g. `<stdlib>/json/decoder.py:353`. */
  via: string | null;
  /** Bytes this site held at the peak (0 when the breakdown was not measured). */
  peak: number;
  /** Bytes this site still held after the window and a full `gc.collect()`. */
  retained: number;
  /** Retained bytes added per iteration (robust slope); null for scripts and modules. */
  leak: number | null;
  /** Live blocks at this site after the window. */
  count: number;
}

export interface ProbeGcTypeCount {
  type: string;
  count: number;
}

export interface ProbeGc {
  /** Objects that only the final cycle collection freed (found with DEBUG_SAVEALL). */
  cyclic: { objects: number; bytes: number; types: ProbeGcTypeCount[] };
  /** Objects left in `gc.garbage` (uncollectable). */
  uncollectable: { count: number; types: ProbeGcTypeCount[] };
  /** Growth of live object counts by type across the window, top 20. */
  growth: { type: string; before: number; after: number; delta: number }[];
}

export interface ProbeReport {
  schema: 'memdelta/probe@1';
  probe_version: string;
  python: { version: string; implementation: string };
  target: { kind: TargetKind; spec: string; args: string[] };
  settings: {
    frames: number;
    iterations: number;
    warmup: number;
    peak_sites: boolean;
    tolerance: number;
    mode: 'traced' | 'rss';
  };
  /** The target's exit status (0 when it returned normally). */
  exit_code: number;
  error: null | { type: string; message: string; traceback: string[] };
  /** Wall time of the measured window, seconds. */
  wall_time: number;
  /** True traced peak inside the window. */
  peak: number;
  /** Sum of the per-site peak breakdown; null when it was not measured. */
  peak_sites_total: number | null;
  /** Traced bytes still held after the window and `gc.collect()`. */
  retained: number;
  leak: null | {
    iterations: number;
    warmup: number;
    /** Total retained bytes added per iteration (robust slope). */
    per_iteration: number;
    /** Retained bytes after the first measured call: one-time setup, not a leak. */
    setup: number;
    /** Total retained bytes after each measured iteration. */
    series: number[];
  };
  /** Peak RSS in bytes of an untraced run (`--rss-only`), else null. */
  rss: number | null;
  sites: ProbeSite[];
  /** Sites beyond the report's cap, summed. */
  other: { sites: number; peak: number; retained: number; count: number };
  gc: ProbeGc | null;
}

/** How one test of a pytest run ended (`memdelta/pytest@1`). */
export type TestOutcome = 'passed' | 'failed' | 'skipped' | 'xfailed' | 'xpassed' | 'error' | 'not-run';

/** One test of a pytest run: its outcome and the probe report of its call phase (null when the call did not run). */
export interface PytestTest {
  /** pytest's node id, relative to the repository root: `tests/test_x.py::test_y[param]`. */
  id: string;
  /** Position among all collected tests (before sharding), for a stable order. */
  index: number;
  outcome: TestOutcome;
  /** The phase that decided the outcome. */
  phase: 'setup' | 'call' | 'teardown';
  error: null | { type: string; message: string; traceback: string[] };
  report: ProbeReport | null;
}

/** What the pytest plugin (`memdelta_probe.pytest_plugin`) writes: `memdelta/pytest@1`. */
export interface PytestRun {
  schema: 'memdelta/pytest@1';
  probe_version: string;
  python: { version: string; implementation: string };
  pytest_version: string;
  /** pytest's exit status: 0 all passed, 1 some failed, 2 interrupted, 3 internal error, 4 usage, 5 no tests. */
  exit_code: number;
  /** Tests collected, before the shard and the detail selection. */
  collected: number;
  /** Collection errors (first 50). */
  errors: { id: string; type: string; message: string; traceback: string[] }[];
  /** Measured tests in collection order. */
  tests: PytestTest[];
}

export type Verdict = 'pass' | 'warn' | 'fail' | 'error';
export type SiteStatus = 'new' | 'removed' | 'changed' | 'same';
export type BudgetLevel = 'warn' | 'fail';

export interface Triple {
  base: number;
  head: number;
  delta: number;
}

export interface SideTotals {
  peak: number;
  retained: number;
  rss?: number;
  leak?: number;
}

export interface BudgetResult {
  /** The rule as the user wrote it, e.g. `peak: +5%`. */
  rule: string;
  /** The limit in bytes (absolute rules), or the allowed growth in bytes for relative rules. */
  limit: number;
  /** The measured value compared with the limit, in the same unit. */
  actual: number;
  level: BudgetLevel;
  ok: boolean;
}

export interface SiteDiff {
  file: string;
  function: string;
  /** Head-side line (base-side for removed sites). */
  line: number;
  code: string;
  via?: string;
  status: SiteStatus;
  peak: Triple;
  retained: Triple;
  leak?: Triple;
}

export interface GcDiff {
  uncollectable: { base: number; head: number };
  cyclic?: { base: number; head: number; bytes: { base: number; head: number } };
  growth: { type: string; base: number; head: number; delta: number }[];
}

/** How a side's numbers were obtained; lets the report say which detail was measured. */
export interface SideDetail {
  /** `measured` in this run or `reused` from the base-report cache. */
  source: 'measured' | 'reused';
  frames: number;
  peakSites: boolean;
  python?: string;
  exitCode?: number;
  wallTime?: number;
}

export interface ScenarioError {
  side: 'base' | 'head' | 'both';
  /** ok | exit | timeout | signal | oom | memory-limit | report-missing | report-invalid | setup | spawn */
  reason: string;
  message: string;
  /** Last lines of stderr/traceback, untrusted text. */
  tail: string[];
}

export interface ScenarioResult {
  name: string;
  status: 'ok' | 'no-baseline' | 'error';
  error?: ScenarioError;
  /** A failure on base that did not stop head from being measured (reported, not fatal). */
  baseError?: ScenarioError;
  base: SideTotals;
  head: SideTotals;
  delta: { peak: number; retained: number; leak?: number; rss?: number };
  budget: BudgetResult[];
  sites: SiteDiff[];
  /** Number of unchanged sites not listed. */
  sameSites?: number;
  gc?: GcDiff;
  detail?: { base?: SideDetail; head?: SideDetail };
  iterations?: number;
}

/** Room between two plan positions in a shard's sort keys, for the tests of a pytest scenario. */
export const POSITION_STRIDE = 2 ** 20;

export interface CompareReport {
  schema: 'memdelta/compare@1';
  verdict: Verdict;
  base: { ref: string; sha: string };
  head: { ref: string; sha: string };
  scenarios: ScenarioResult[];
  /** Why nothing could be compared (verdict `error` before any scenario ran). */
  error?: string;
  /**
   * Set on the partial report of one shard (`--shard i/n`): which slice it is, how many scenarios the whole plan
   * has, and a sort key for each scenario listed, so `memdelta aggregate` can merge shards in the plan's order: the
   * scenario's position in the plan times {@link POSITION_STRIDE}, plus 1 + the collection index for a pytest test.
   */
  shard?: { index: number; count: number; total: number; positions: number[] };
  /** Settings that reproduce the run; rendered in the footer. */
  settings?: {
    python?: string;
    frames: number;
    minDelta: { bytes: number; percent: number };
    memdeltaVersion: string;
    /** Web address of the repository (links), e.g. `https://github.com/o/r`; absent when unknown. */
    repositoryUrl?: string;
    /** The exact CLI command that reproduces this report. */
    command?: string;
  };
}
