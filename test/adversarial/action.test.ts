/**
 * The action bundle (`node dist/index.js`) on a pull request whose code attacks the job: it dumps its
 * environment, prints workflow commands (also after guessing a stop-commands token), appends to the runner's
 * command files it finds in RUNNER_TEMP, prints the job token it read from the checkout's git config, and names
 * its files, functions and lines with hostile text. Nothing of it may take effect, leak, or render live.
 */
import { readFile, rm } from 'node:fs/promises';
import { micromark } from 'micromark';
import { gfm, gfmHtml } from 'micromark-extension-gfm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORBIDDEN_CHARS, HOSTILE_NAMES } from '../support/hostile-names.js';
import { makeRepo, makeTempDir, type TestRepo } from '../support/git-repo.js';
import { GitHubServer } from '../support/github-server.js';
import {
  pullPayload,
  runAction,
  tmpJson,
  type ActionContext,
  type ActionRun,
  contextFor,
} from '../support/action.js';
import { baseEnv, liveCommands, runCli, type Ran } from './support.js';

const PR = 7;
const TOKEN = 'ghs_plantedT0kenValue4d7e9';

// Runs on head only. Environment dump, workflow commands on both streams, the runner's command files.
const BENCH = `import glob, json, os, sys, tempfile
KEEP = [bytearray(300_000)]
with open(os.path.join(tempfile.gettempdir(), "bench-env-%d.json" % os.getpid()), "w") as f:
    json.dump(dict(os.environ), f)
for stream in (sys.stdout, sys.stderr):
    stream.write("::error::benchmark error command\\n")
    stream.write("::add-mask::memdelta\\n")
    stream.write("::set-output name=verdict::pass\\n")
    stream.write("::stop-commands::guess\\n")
    stream.write("::warning::inside a guessed block\\n")
    stream.write("::guess::\\n")
    stream.write("::error::after the guessed block\\n")
    stream.flush()
temp = os.environ.get("RUNNER_TEMP", "")
for path in glob.glob(os.path.join(temp, "_runner_file_commands", "*")):
    with open(path, "a") as f:
        f.write("LD_PRELOAD=/tmp/evil.so\\nPWNED=1\\n")
`;

// Reads the token actions/checkout left in the git config, prints it and crashes, so it lands in the error tail.
const LEAK = `import base64, subprocess, sys
header = subprocess.run(["git", "config", "--get", "http.https://github.com/.extraheader"],
                        capture_output=True, text=True).stdout.strip()
token = base64.b64decode(header.split()[-1]).decode().split(":", 1)[1]
print("token:", token, file=sys.stderr)
raise SystemExit("stolen " + token)
`;

/** Hostile text as it can appear in a Python comment and as a file name. */
const inLine = (t: string) => t.replace(/[\r\n\0]/g, ' ');
const fileNameOf = (i: number, t: string) =>
  `${String(i).padStart(2, '0')}-${t.replace(/[/\u0000-\u001f\u007f]/g, '_')}`.slice(0, 120) + '.py';

function hostileModule(text: string, size: number): string {
  return (
    `NAME = ${JSON.stringify(text)}\n` +
    `def work():\n    return bytearray(${size})  # ${inLine(text)}\n` +
    'work.__code__ = work.__code__.replace(co_name=NAME, co_qualname=NAME)\n'
  );
}

const HOSTILE_BENCH = `import os, runpy
HERE = os.path.dirname(os.path.abspath(__file__))
KEEP = []
for name in sorted(os.listdir(os.path.join(HERE, "h"))):
    KEEP.append(runpy.run_path(os.path.join(HERE, "h", name))["work"]())
`;

/** Scenario names: every hostile name the config accepts (short enough, a single line). */
const SCENARIO_NAMES = HOSTILE_NAMES.map((h) => h.text).filter((t) => t.length <= 200 && !/[\0\r\n]/.test(t));

function files(size: number): Record<string, string> {
  const out: Record<string, string> = { 'hostile.py': HOSTILE_BENCH };
  HOSTILE_NAMES.forEach((h, i) => {
    if (h.label !== 'lone surrogate') out[`h/${fileNameOf(i, h.text)}`] = hostileModule(h.text, size);
  });
  return out;
}

const CONFIG =
  'scenarios:\n  - name: bench\n    run: bench.py\n  - name: leak\n    run: leak.py\n' +
  SCENARIO_NAMES.map((n) => `  - name: ${JSON.stringify(n)}\n    run: hostile.py\n`).join('');

let repo: TestRepo;
let server: GitHubServer;
let tmp: string;
let ctx: ActionContext;
let headSha: string;
let baseTip: string;
let run: ActionRun;
let cli: Ran;
let benchEnv: Record<string, string>[];

beforeAll(async () => {
  tmp = await makeTempDir('memdelta-adv-action-');
  server = new GitHubServer();
  await server.start();
  repo = await makeRepo([
    {
      files: {
        'bench.py': 'KEEP = [bytearray(300_000)]\n',
        'leak.py': 'KEEP = 1\n',
        '.memdelta.yml': CONFIG,
        ...files(10_000),
      },
      message: 'base',
    },
    {
      branch: 'feature',
      files: { 'bench.py': BENCH, 'leak.py': LEAK, ...files(400_000) },
      message: 'attack',
    },
    { branch: 'main', files: { 'README.md': 'docs\n' }, message: 'main moves on' },
  ]);
  headSha = repo.shas[1] as string;
  baseTip = repo.shas[2] as string;
  await repo.git('checkout', '--quiet', '--detach', baseTip);
  await repo.git('merge', '--quiet', '--no-ff', '-m', 'Merge feature', headSha);
  const mergeSha = await repo.git('rev-parse', 'HEAD');
  // What actions/checkout leaves behind with persist-credentials (the default).
  const basic = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
  await repo.git('config', 'http.https://github.com/.extraheader', `AUTHORIZATION: basic ${basic}`);
  server.tokens.set(TOKEN, {
    user: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' },
    kind: 'installation',
  });
  server.addPull({ number: PR, headSha, baseSha: baseTip });
  ctx = contextFor(server, repo.dir, mergeSha, tmp);
  const payload = pullPayload(ctx, PR, headSha, baseTip);
  const extra = {
    GITHUB_TOKEN: TOKEN,
    'INPUT_GITHUB-TOKEN': TOKEN,
    GH_TOKEN: TOKEN,
    ACTIONS_RUNTIME_TOKEN: 'runtime-secret-1',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-secret-2',
    ACTIONS_ID_TOKEN_REQUEST_URL: 'https://token.example/oidc',
    // Closed ports: nothing answers, so nothing of the job's caches or results is touched.
    ACTIONS_RESULTS_URL: 'http://127.0.0.1:9/',
    ACTIONS_CACHE_URL: 'http://127.0.0.1:9/',
  };
  run = await runAction(ctx, 'pull_request', payload, { run: '' }, { env: extra });
  benchEnv = await tmpJson<Record<string, string>>(run, 'bench-env-');
  cli = await runCli(['compare', '--base', baseTip, '--head', headSha], {
    cwd: repo.dir,
    env: baseEnv({ FORCE_COLOR: '0' }),
    timeoutMs: 120_000,
  });
}, 240_000);

afterAll(async () => {
  await server?.stop();
  await repo?.remove();
  await rm(tmp, { recursive: true, force: true });
});

describe('secrets and workflow commands', () => {
  it('ran the benchmark (the attack was live)', () => {
    expect(run.code, run.stdout.slice(-3000)).toBe(1);
    expect(run.stdout).toMatch(/::error::memdelta could not compare/);
    expect(benchEnv.length).toBeGreaterThanOrEqual(1);
    expect(server.violations).toEqual([]);
  });

  it('gives the benchmark no inputs, tokens, runtime URLs or command files, and keeps RUNNER_TRACKING_ID', () => {
    for (const env of benchEnv) {
      const names = Object.keys(env);
      expect(names.filter((n) => n.startsWith('INPUT_'))).toEqual([]);
      expect(names).not.toContain('GITHUB_TOKEN');
      expect(names).not.toContain('GH_TOKEN');
      expect(names.filter((n) => /^ACTIONS_.*(TOKEN|_URL)/.test(n))).toEqual([]);
      for (const f of ['GITHUB_ENV', 'GITHUB_OUTPUT', 'GITHUB_PATH', 'GITHUB_STATE', 'GITHUB_STEP_SUMMARY']) {
        expect(names).not.toContain(f);
      }
      expect(Object.values(env).join('\n')).not.toContain(TOKEN);
      expect(env['RUNNER_TRACKING_ID']).toBe('github_tracking_0f3c');
    }
  });

  it('shows the benchmark output only inside stop-commands blocks with unguessable tokens', () => {
    const live = liveCommands(run.stdout);
    expect(
      live.filter((l) => /benchmark error command|guessed block|add-mask::memdelta|name=verdict/.test(l)),
    ).toEqual([]);
    // The step's own commands are still live: the verdict error, and the stop-commands markers.
    expect(live.some((l) => l.startsWith('::stop-commands::memdelta-'))).toBe(true);
    expect(live.some((l) => l.startsWith('::error::'))).toBe(true);
  });

  it('leaves the runner command files as they were', async () => {
    expect(run.githubEnv).toBe('');
    expect(run.githubPath).toBe('');
    expect(run.summary).not.toContain('PWNED');
    expect(JSON.stringify(run.outputs)).not.toContain('PWNED');
    // The attempt itself makes the compare an error, naming the file.
    expect(run.outputs['verdict']).toBe('error');
    expect(run.summary).toContain(
      'wrote to the workflow command file(s) GITHUB_ENV, GITHUB_PATH, GITHUB_OUTPUT',
    );
  });

  it('never publishes the token the benchmark printed: comment, summary, report, outputs', async () => {
    const leak = run.stdout.includes('stolen') || run.summary.includes('stolen');
    expect(leak).toBe(true);
    const comments = server.commentsOn(PR);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body).toContain('stolen');
    expect(comments[0]?.body).not.toContain(TOKEN);
    expect(run.summary).not.toContain(TOKEN);
    expect(await readFile(run.outputs['report'] as string, 'utf8')).not.toContain(TOKEN);
    expect(await readFile(run.outputs['markdown'] as string, 'utf8')).not.toContain(TOKEN);
    expect(JSON.stringify(run.outputs)).not.toContain(TOKEN);
    // The runner masks the token in the log once the action registered it.
    expect(run.stdout).toContain(`::add-mask::${TOKEN}`);
  });
});

describe('hostile names in the comment and the terminal', () => {
  it('renders a comment with no live element, link or mention from the names, and an intact table', () => {
    const body = server.commentsOn(PR)[0]?.body ?? '';
    // The hostile scenarios and their sites are in the comment (the attack reached the renderer).
    expect(body).toContain('octocat');
    expect(body).toMatch(/h\/\d\d-/);
    const html = micromark(body, {
      allowDangerousHtml: true,
      extensions: [gfm()],
      htmlExtensions: [gfmHtml()],
    });
    expect(html).not.toMatch(/<img/i);
    // memdelta's own collapsible sections are the only <details> elements.
    expect(html.match(/<details[^>]*>(?!<summary>)/g)).toBeNull();
    expect(html.split('<details').length).toBe(html.split('</details>').length);
    expect(html).not.toMatch(/<[^>]*\son\w+=/i);
    expect(html).not.toMatch(/href="javascript:/i);
    const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1] ?? '');
    for (const h of hrefs) {
      expect(
        h.startsWith(`${server.webUrl}/`) || h.startsWith('https://docs.github.com/') || h.startsWith('#'),
        h,
      ).toBe(true);
    }
    expect(html).not.toMatch(/evil\.example"/);
    expect(html).not.toMatch(/mailto:/);
    // Mentions and references are broken (GitHub links @x, #1, GH-1, o/r#2 in text).
    // Code spans and blocks are inert on GitHub; outside them, mentions and references must be broken.
    const text = html
      .replace(/<code>[\s\S]*?<\/code>/g, '')
      .replace(/<pre>[\s\S]*?<\/pre>/g, '')
      .replace(/<[^>]+>/g, '');
    expect(text).not.toMatch(/(^|[^\w\u2060])@octocat/);
    expect(text).not.toMatch(/(^|\s)#1\b/);
    expect(text).not.toMatch(/\bGH-1\b/);
    expect(body).not.toMatch(FORBIDDEN_CHARS);
    // Tables: every <tr> of a table has as many cells as its header.
    for (const table of html.split('<table>').slice(1)) {
      const t = table.slice(0, table.indexOf('</table>'));
      const rows = t.split('<tr>').slice(1);
      const cells = rows.map((r) => (r.match(/<t[hd][ >]/g) ?? []).length);
      expect(new Set(cells).size, t.slice(0, 500)).toBe(1);
    }
    // Only the marker (and the run line) are HTML comments.
    expect(body.match(/<!--/g)).toHaveLength(2);
  });

  it('prints no raw control or bidi characters on the terminal', () => {
    expect(cli.code, cli.stderr.slice(-2000)).toBe(2);
    expect(cli.stdout).toContain('octocat');
    expect(cli.stdout).toMatch(/h\/\d\d-/);
    expect(cli.stdout).not.toMatch(FORBIDDEN_CHARS);
    expect(cli.stderr).not.toMatch(FORBIDDEN_CHARS);
  });
});

describe('pull_request_target', () => {
  it('refuses to run pull request code unless allow-untrusted-checkout, linking the guidance', async () => {
    const before = server.requests.length;
    const r = await runAction(ctx, 'pull_request_target', pullPayload(ctx, PR, headSha, baseTip));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/::error::Refusing to run/);
    expect(r.stdout).toContain(
      'https://securitylab.github.com/resources/github-actions-preventing-pwn-requests/',
    );
    expect(r.stdout).toContain('allow-untrusted-checkout');
    expect(server.requests.length).toBe(before);
  });
});
