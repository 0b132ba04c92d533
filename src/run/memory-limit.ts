/**
 * How a probe run is held to a `memory-limit`. On Linux with util-linux's `prlimit` the limit (RLIMIT_AS, the
 * address space) is set before the interpreter starts, so start-up, imports and every child the benchmark starts
 * are inside it. Elsewhere the probe sets the same limit on itself with `resource.setrlimit` as its first act
 * (`--memory-limit`); see docs/config.md for what each platform enforces.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where the limit is applied: by `prlimit` in front of the interpreter, or by the probe itself. */
export type LimitMethod = { kind: 'prlimit'; path: string } | { kind: 'probe' };

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

const found = new Map<string, LimitMethod>();

/**
 * The method for this platform: `prlimit` when it is on Linux and found on `pathVar` (memdelta's own PATH, not
 * the benchmark's), else the probe's own `setrlimit`.
 */
export function limitMethod(
  pathVar: string | undefined,
  platform: NodeJS.Platform = process.platform,
): LimitMethod {
  if (platform !== 'linux') return { kind: 'probe' };
  const key = pathVar ?? '';
  const known = found.get(key);
  if (known) return known;
  const dirs = [...key.split(delimiter).filter((d) => d.startsWith('/')), '/usr/bin', '/bin'];
  const hit = dirs.map((d) => join(d, 'prlimit')).find(executable);
  const method: LimitMethod = hit ? { kind: 'prlimit', path: hit } : { kind: 'probe' };
  found.set(key, method);
  return method;
}

/**
 * The command that runs `file args` under a limit of `bytes`. With `prlimit` the interpreter's command line is
 * wrapped; otherwise `--memory-limit` is given to the probe (its options come right after `-m memdelta_probe`).
 */
export function limitedCommand(
  file: string,
  args: readonly string[],
  bytes: number,
  method: LimitMethod,
): { file: string; args: string[] } {
  if (method.kind === 'prlimit') {
    return { file: method.path, args: [`--as=${bytes}`, '--', file, ...args] };
  }
  const at = args[0] === '-m' && args[1] === 'memdelta_probe' ? 2 : 0;
  return { file, args: [...args.slice(0, at), '--memory-limit', String(bytes), ...args.slice(at)] };
}

/** Text in a run's output that says an allocation failed. */
const OUT_OF_MEMORY =
  /\bMemoryError\b|Cannot allocate memory|out of memory|std::bad_alloc|failed to allocate/i;

/** Whether output text reports a failed allocation. */
export function mentionsOutOfMemory(text: string): boolean {
  return OUT_OF_MEMORY.test(text);
}
