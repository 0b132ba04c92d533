/**
 * The runner's workflow command files (GITHUB_ENV, GITHUB_PATH, GITHUB_OUTPUT, GITHUB_STATE, GITHUB_STEP_SUMMARY).
 * The benchmark never gets their paths, but it runs as the same user and can find them by listing
 * `RUNNER_TEMP/_runner_file_commands`. Appending `LD_PRELOAD=...` to GITHUB_ENV would change every later step of the
 * job, so their content is taken before pull request code runs and put back afterwards if it changed.
 */
import { readFile, writeFile } from 'node:fs/promises';

const COMMAND_FILES = ['GITHUB_ENV', 'GITHUB_PATH', 'GITHUB_OUTPUT', 'GITHUB_STATE', 'GITHUB_STEP_SUMMARY'];
/** Files larger than this are not snapshotted (the runner starts each step's files empty). */
const MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024;

/** Puts the command files back as they were; resolves to the names of those that had been changed. */
export type RestoreCommandFiles = () => Promise<string[]>;

async function readOrUndefined(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch {
    return undefined;
  }
}

/** Snapshots the command files named in `env`, before any pull request code runs. */
export async function guardCommandFiles(
  env: Record<string, string | undefined>,
): Promise<RestoreCommandFiles> {
  const saved: { name: string; path: string; content: Buffer }[] = [];
  for (const name of COMMAND_FILES) {
    const path = env[name];
    if (!path) continue;
    const content = await readOrUndefined(path);
    if (content !== undefined && content.length <= MAX_SNAPSHOT_BYTES) saved.push({ name, path, content });
  }
  return async () => {
    const changed: string[] = [];
    for (const { name, path, content } of saved) {
      const now = await readOrUndefined(path);
      if (now !== undefined && now.equals(content)) continue;
      await writeFile(path, content);
      changed.push(name);
    }
    return changed;
  };
}
