/**
 * Reads the plan a compare runs: `.memdelta.yml` (or another config file) from the user's checkout, or a single
 * `run` target, plus flags. Shared by the CLI and the action so both read configs the same, size-capped way.
 */
import { open, rename, rm, stat, writeFile } from 'node:fs/promises';
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
  if (o.flags.run !== undefined || o.flags.pytest !== undefined)
    return resolvePlan({ flags: o.flags, parentEnv: o.parentEnv });
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

/** A report or Markdown file that could not be written (disk full, no permission, not a folder). */
export class WriteError extends Error {
  override readonly name = 'WriteError';
}

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOENT: 'no such folder',
  ENOTDIR: 'a parent is not a folder',
  EISDIR: 'it is a folder',
};

function writeError(path: string, e: unknown): WriteError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code ? `${ERRNO_TEXT[code] ?? (e as Error).message} (${code})` : String(e);
  return new WriteError(`cannot write ${path}: ${why}`);
}

/**
 * Writes a file whole or not at all: a reader never sees half a report. A temporary file next to `path` is
 * written and renamed over it, and removed if the write fails (a full disk leaves nothing behind). A `path` that
 * exists and is not a regular file (`/dev/stdout`, a FIFO, a device) is written in place instead: renaming over it
 * would replace the device node itself.
 * @throws WriteError saying why, e.g. `cannot write report.json: no space left on the device (ENOSPC)`
 */
export async function writeAtomic(path: string, text: string): Promise<void> {
  let special = false;
  try {
    special = !(await stat(path)).isFile();
  } catch {
    // Missing: written fresh below.
  }
  if (special) {
    try {
      await writeFile(path, text);
    } catch (e) {
      throw writeError(path, e);
    }
    return;
  }
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw writeError(path, e);
  }
}
