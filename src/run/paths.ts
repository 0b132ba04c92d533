/** Where memdelta's own files are, and the repository's web address for links. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Git } from './git.js';

/**
 * The folder holding the `memdelta_probe` package: `py-probe/` beside `dist/` in a release, or beside `src/` when
 * running from source. Found by walking up from this module.
 */
export function defaultProbeDir(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'py-probe');
    if (existsSync(join(candidate, 'memdelta_probe', '__main__.py'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('cannot find the py-probe folder that ships with memdelta (is the installation complete?)');
}

/**
 * The web address of a git remote URL, for links to commits and lines: `https://host/owner/repo` from
 * `git@host:owner/repo.git`, `ssh://git@host/owner/repo`, or `https://host/owner/repo.git`. Undefined for anything
 * else (file paths, other schemes), so no link is ever made from an address that is not a web page.
 */
export function webUrlFromRemote(remote: string): string | undefined {
  const s = remote.trim();
  let host: string | undefined;
  let path: string | undefined;
  const scp = /^[\w.-]+@([\w.-]+):([\w./-]+)$/.exec(s);
  if (scp) {
    host = scp[1];
    path = scp[2];
  } else {
    try {
      const u = new URL(s);
      if (!['https:', 'http:', 'ssh:', 'git:'].includes(u.protocol)) return undefined;
      host = u.hostname;
      path = u.pathname.replace(/^\//, '');
    } catch {
      return undefined;
    }
  }
  path = path?.replace(/\.git$/, '').replace(/\/+$/, '');
  if (!host || !path || !/^[\w.-]+\/[\w.-]+$/.test(path)) return undefined;
  return `https://${host}/${path}`;
}

/** The web address of the `origin` remote, or undefined. */
export async function originWebUrl(git: Git): Promise<string | undefined> {
  try {
    return webUrlFromRemote(await git(['remote', 'get-url', 'origin']));
  } catch {
    return undefined;
  }
}
