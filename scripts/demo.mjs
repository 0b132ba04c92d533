// `npm run demo`: builds a throw-away git repository from examples/demo (base commit, then a head commit that adds
// a leak, a bigger temporary and a refactor that shifts lines), runs `memdelta compare` on it with the bundled CLI,
// and prints the terminal summary followed by the markdown the PR comment would show.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const repo = mkdtempSync(join(tmpdir(), 'memdelta-demo-'));
const git = (...args) =>
  execFileSync('git', ['-c', 'user.name=memdelta demo', '-c', 'user.email=demo@example.invalid', ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'inherit'],
  });

try {
  git('init', '-q', '-b', 'main');
  cpSync(join(root, 'examples/demo/base'), repo, { recursive: true });
  git('add', '-A');
  git('commit', '-q', '-m', 'ledger: base');
  git('rm', '-q', '-r', '--', '.');
  cpSync(join(root, 'examples/demo/head'), repo, { recursive: true });
  git('add', '-A');
  git('commit', '-q', '-m', 'ledger: audit trail and paginated report');

  const markdown = join(repo, '..', `${repo.split('/').pop()}-comment.md`);
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'dist/cli.js'),
      'compare',
      '--repo',
      repo,
      '--base',
      'HEAD~1',
      '--head',
      'HEAD',
      '--markdown',
      markdown,
      // The throw-away repository's SHAs are new every time: caching its base would only fill the cache.
      '--no-cache',
    ],
    { stdio: 'inherit' },
  );
  if (r.status === 2 || r.status === null) {
    console.error(`\nmemdelta could not compare (exit ${r.status ?? r.signal}).`);
    process.exit(1);
  }
  console.log('\n----- the PR comment (markdown) -----\n');
  console.log(readFileSync(markdown, 'utf8'));
  rmSync(markdown, { force: true });
  console.log(
    `\nmemdelta exited ${r.status} (${r.status === 1 ? 'over budget: the demo head adds a leak and a bigger peak on purpose' : 'within budget'}).`,
  );
} finally {
  rmSync(repo, { recursive: true, force: true });
}
