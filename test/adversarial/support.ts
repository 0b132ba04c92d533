/**
 * The adversarial suite's helpers: the shipped CLI bundle run as a user would (`node dist/cli.js` with the Node
 * the package requires, real git, real python3), and what the suite inspects afterwards: leftover processes and
 * worktrees, and workflow commands a log would make live. The action bundle runs through ../support/action.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, runNode, type Ran, type RunOptions } from '../support/cli.js';

// The suite's tests take these from here with the suite's own helpers.
export { baseEnv, type Ran } from '../support/cli.js';

export const CLI = join(ROOT, 'dist', 'cli.js');

/** `node dist/cli.js ...args`. */
export function runCli(args: readonly string[], o: RunOptions): Promise<Ran> {
  return runNode(CLI, args, o);
}

/** Live processes whose environment or command line contains `needle` (for leftovers of a benchmark). */
export function processesWith(needle: string): { pid: number; name: string }[] {
  const found: { pid: number; name: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      const cmd = readFileSync(`/proc/${d}/cmdline`);
      let env = Buffer.alloc(0);
      try {
        env = readFileSync(`/proc/${d}/environ`);
      } catch {
        // Not ours to read.
      }
      if (cmd.includes(needle) || env.includes(needle)) {
        found.push({ pid: Number(d), name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
      }
    } catch {
      // Exited meanwhile.
    }
  }
  return found;
}

/** memdelta's worktree folders in `dir`. */
export function worktreeFolders(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('memdelta-wt-')) : [];
}

/**
 * The workflow commands the runner would execute in a log: `::name...::` lines outside a
 * `::stop-commands::TOKEN` … `::TOKEN::` block. Returns the command lines.
 */
export function liveCommands(log: string): string[] {
  const live: string[] = [];
  let stopToken: string | undefined;
  for (const raw of log.split('\n')) {
    const line = raw.replace(/\r$/, '').trimStart();
    if (stopToken !== undefined) {
      if (line === `::${stopToken}::`) stopToken = undefined;
      continue;
    }
    const stop = /^::stop-commands::(.+)$/.exec(line);
    if (stop) {
      stopToken = stop[1];
      live.push(line);
      continue;
    }
    if (/^::[a-z-]+( [^:]*)?::/i.test(line)) live.push(line);
  }
  return live;
}

/** Files the benchmark dropped in TMPDIR (`tmp/` of a run folder). */
export async function tmpFiles(dir: string): Promise<string[]> {
  return readdir(join(dir, 'tmp'));
}
