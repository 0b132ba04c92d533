/** Words about a compare for logs and reports: progress lines and the command that reproduces it locally. */
import { cleanTerminal, LIMITS } from '../render/escape.js';
import type { Progress } from './compare.js';

/** The settings a reproduce command repeats; the CLI's parsed arguments and the action's inputs both fit. */
export interface ReproduceSettings {
  config?: string | undefined;
  run?: string | undefined;
  pytest?: string | undefined;
  name?: string | undefined;
  iterations?: string | undefined;
  warmup?: string | undefined;
  setup?: string | undefined;
  frames?: string | undefined;
  budgets: readonly string[];
  minDelta?: string | undefined;
  memoryLimit?: string | undefined;
}

function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** The `npx memdelta compare` command that reproduces this compare, with the resolved SHAs. */
export function reproduceCommand(a: ReproduceSettings, base: string, head: string): string {
  const words = ['npx', 'memdelta', 'compare', '--base', base, '--head', head];
  if (a.config) words.push('--config', a.config);
  if (a.run) words.push('--run', a.run);
  if (a.pytest) words.push('--pytest', a.pytest);
  if (a.name) words.push('--name', a.name);
  if (a.iterations) words.push('--iterations', a.iterations);
  if (a.warmup) words.push('--warmup', a.warmup);
  if (a.setup) words.push('--setup', a.setup);
  if (a.frames) words.push('--frames', a.frames);
  for (const b of a.budgets) words.push('--budget', b);
  if (a.minDelta) words.push('--min-delta', a.minDelta);
  if (a.memoryLimit) words.push('--memory-limit', a.memoryLimit);
  return words.map(quoteArg).join(' ');
}

/** One log line for a progress notice (starts and failures; completions are implied by the next line). */
export function progressLine(p: Progress): string | undefined {
  // Scenario names and failure messages come from the pull request: no control or bidi characters on a terminal.
  const what = p.scenario ? `${p.phase} ${cleanTerminal(p.scenario, LIMITS.name)}` : p.phase;
  if (p.state === 'start') return `  ${p.side.padEnd(4)} ${what} ...`;
  if (p.state === 'reused') return `  ${p.side.padEnd(4)} ${what}: reused from the cache`;
  if (p.state === 'failed')
    return `  ${p.side.padEnd(4)} ${what}: failed (${cleanTerminal(p.message ?? '', 200)})`;
  return undefined;
}
