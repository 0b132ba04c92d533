/**
 * Reads the plan a compare runs: `.memdelta.yml` (or another config file) from the user's checkout, or a single
 * `run` target, plus flags. Shared by the CLI and the action so both read configs the same, size-capped way.
 */
import { open, rename, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, MAX_CONFIG_BYTES, resolvePlan, type PlanFlags } from '../plan/config.js';
import type { Plan } from '../plan/types.js';

/** Options of {@link loadPlan}. */
export interface LoadPlanOptions {
  /** The checkout the config is read from (the head side, like the workflow that runs memdelta). */
  repo: string;
  /** Config file relative to `repo`; default `.memdelta.yml`. Ignored when `flags.run` is set. */
  config?: string;
  flags: PlanFlags;
  parentEnv: Record<string, string | undefined>;
  /** How to tell the user to name a config or a target, e.g. `pass --config FILE or --run TARGET`. */
  hint: string;
}

/**
 * Resolves the plan from flags alone (a `run` target) or from the config file in the checkout.
 * @throws ConfigError naming the file (and line and key) of the problem
 */
export async function loadPlan(o: LoadPlanOptions): Promise<Plan> {
  if (o.flags.run !== undefined) return resolvePlan({ flags: o.flags, parentEnv: o.parentEnv });
  const file = o.config ?? '.memdelta.yml';
  let text: string;
  try {
    text = await readConfigText(resolve(o.repo, file), file);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && o.config === undefined) {
      throw new ConfigError(`no .memdelta.yml in the repository: ${o.hint}`);
    }
    throw new ConfigError(`${file}: cannot be read (${code ?? (e as Error).message})`);
  }
  return resolvePlan({ config: { text, file }, flags: o.flags, parentEnv: o.parentEnv });
}

async function readConfigText(path: string, file: string): Promise<string> {
  const h = await open(path, 'r');
  try {
    const st = await h.stat();
    if (!st.isFile()) throw new ConfigError(`${file}: is not a regular file`);
    // Checked before reading, so a 10 MB (or endless) config costs nothing.
    if (st.size > MAX_CONFIG_BYTES) {
      throw new ConfigError(
        `${file}: is ${st.size} bytes, over the ${MAX_CONFIG_BYTES}-byte limit for a config`,
      );
    }
    return await h.readFile('utf8');
  } finally {
    await h.close();
  }
}

/** Writes a file whole or not at all: a reader never sees half a report. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}
