/** The resolved plan: what to run on each side and how to judge it. Built by config.ts from flags and `.memdelta.yml`. */
import type { BudgetLevel, TargetKind } from '../report/types.js';

/** Metrics a budget can constrain. `*-max` are absolute ceilings on head; the others limit growth over base. */
export type BudgetMetric = 'peak' | 'peak-max' | 'retained' | 'retained-max' | 'leak' | 'leak-max';

export interface BudgetRule {
  metric: BudgetMetric;
  /** `relative`: growth as a fraction of base (0.05 for +5%); `bytes`: growth or ceiling in bytes. */
  kind: 'relative' | 'bytes';
  value: number;
  level: BudgetLevel;
  /** The rule as written, for reports and errors. */
  text: string;
}

export interface NoiseFloor {
  /** Changes at or below this many bytes are "same". */
  bytes: number;
  /** Changes at or below this percentage of base are "same". */
  percent: number;
}

export interface Target {
  kind: TargetKind;
  /** Script path (repo-relative), module name, or `module:function`. */
  spec: string;
  args: string[];
}

export interface Scenario {
  name: string;
  target: Target;
  iterations: number;
  warmup: number;
  /** Optional `module:function` called before the window (callable targets). */
  setupCallable?: string;
  budgets: BudgetRule[];
  minDelta: NoiseFloor;
  timeoutMs: number;
  /** Address-space limit in bytes for each probe run (`memory-limit`); undefined: no limit. */
  memoryLimit?: number;
}

export interface Plan {
  /** Interpreter to run on both sides (same on both). */
  python: string;
  /** Shell command run in each worktree before probing, or undefined. */
  setup?: string;
  /** Frame depth of the cheap pass. */
  frames: number;
  /** Frame depth for the detail pass when attribution needs more. */
  detailFrames: number;
  /** Extra environment variables passed to the benchmark, by name and value (explicit only). */
  env: Record<string, string>;
  scenarios: Scenario[];
}
