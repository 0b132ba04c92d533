/** The repository's web address, for links to commits and lines in reports. */
import type { Git } from './git.js';

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
