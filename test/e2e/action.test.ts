/**
 * The action end to end: the bundled entry (built from src/index.ts with the release build's settings) runs as a
 * child process, as the runner runs it, with a real event payload, a real git repository as the workspace (a test
 * merge commit as head), real python3 benchmarks, and the loopback GitHub API, which checks every request against
 * GitHub's OpenAPI description.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { markerFor } from '../../src/action/comment.js';
import { parseCompareReport } from '../../src/report/compare-schema.js';
import { pullPayload, runAction, tmpJson, type ActionRun, contextFor } from '../support/action.js';
import { ROOT } from '../support/cli.js';
import { makeRepo, makeTempDir, type TestRepo } from '../support/git-repo.js';
import { ACTIONS_BOT, GitHubServer } from '../support/github-server.js';
import type { CompareReport } from '../../src/report/types.js';

// Inside the package, so the bundle finds py-probe/ by walking up, as dist/index.js does.
const BUNDLE_DIR = join(ROOT, 'node_modules', '.cache', 'memdelta-e2e');
const BUNDLE = join(BUNDLE_DIR, 'index.js');
const CREATE = 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments';
const UPDATE = 'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}';
const LIST = 'GET /repos/{owner}/{repo}/issues/{issue_number}/comments';
const PR = 7;
const OTHER_PR = 9;

const WORK = 'KEPT = []\n\n\ndef work():\n    buf = bytearray(200_000)\n    return len(buf)\n';
// The benchmark records the environment it sees, to prove the token and the command files never reach it.
const BENCH =
  'import json, os\nfrom pkg.work import work\n\nwork()\n' +
  'with open(os.path.join(os.environ["TMPDIR"], "bench-env-%d.json" % os.getpid()), "w") as f:\n' +
  '    json.dump(sorted(os.environ), f)\n';

let repo: TestRepo;
let server: GitHubServer;
let tmp: string;
let headSha: string;
let mergeSha: string;
let baseTip: string;

/**
 * Runs the bundle built below as the runner would, against this test's server and workspace (GitHub's test merge
 * commit checked out), with the variable names each benchmark run saw.
 */
async function act(
  eventName: string,
  payload: unknown,
  inputs: Record<string, string> = {},
): Promise<ActionRun & { benchEnv: string[][] }> {
  const ctx = contextFor(server, repo.dir, mergeSha, tmp);
  const ran = await runAction(ctx, eventName, payload, inputs, { bundle: BUNDLE });
  return { ...ran, benchEnv: await tmpJson<string[]>(ran, 'bench-env-') };
}

/** The pull_request event of the PR under test (head: the feature tip; base: the base branch tip). */
function pullEvent(labels: string[] = [], action = 'synchronize') {
  return pullPayload({ repository: `${server.owner}/${server.repo}` }, PR, headSha, baseTip, labels, action);
}

beforeAll(async () => {
  await rm(BUNDLE_DIR, { recursive: true, force: true });
  await build({
    entryPoints: [join(ROOT, 'src/index.ts')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    logLevel: 'warning',
    banner: {
      js: "import { createRequire as __memdeltaCreateRequire } from 'node:module'; const require = __memdeltaCreateRequire(import.meta.url);",
    },
  });
  tmp = await makeTempDir('memdelta-e2e-');
  // base → feature (the PR: a 3 MB buffer kept for good) and main moving on; HEAD is GitHub's test merge commit.
  repo = await makeRepo([
    { files: { 'pkg/__init__.py': '', 'pkg/work.py': WORK, 'bench.py': BENCH }, message: 'base' },
    {
      branch: 'feature',
      files: { 'pkg/work.py': WORK.replace('    buf =', '    KEPT.append(bytearray(3_000_000))\n    buf =') },
      message: 'keep a buffer',
    },
    { branch: 'main', files: { 'README.md': 'docs\n' }, message: 'main moves on' },
  ]);
  headSha = repo.shas[1] as string;
  baseTip = repo.shas[2] as string;
  await repo.git('checkout', '--quiet', '--detach', baseTip);
  await repo.git('merge', '--quiet', '--no-ff', '-m', 'Merge feature into main', headSha);
  mergeSha = await repo.git('rev-parse', 'HEAD');
});

afterAll(async () => {
  await repo?.remove();
  await rm(tmp, { recursive: true, force: true });
  await rm(BUNDLE_DIR, { recursive: true, force: true });
});

beforeEach(async () => {
  await server?.stop();
  server = new GitHubServer();
  await server.start();
  server.addPull({ number: PR, headSha, baseSha: baseTip });
  server.addPull({ number: OTHER_PR, headSha: 'e'.repeat(40), baseSha: baseTip });
  return async () => {
    expect(server.violations).toEqual([]);
    await server.stop();
  };
});

describe('the action on pull_request', () => {
  it('comments, updates, keeps keys apart, fails over budget after publishing, and passes with the accept label', async () => {
    const first = await act('pull_request', pullEvent());
    // Over budget: the step fails, but only after the outputs, the summary and the comment are written.
    expect(first.code, first.stderr + first.stdout).toBe(1);
    expect(first.stdout).toMatch(/::error::memdelta: over budget \(.*bench\.py: retained: \+1MiB/);
    const comments = server.commentsOn(PR);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body.startsWith(markerFor('default'))).toBe(true);
    expect(comments[0]?.body).toContain('❌');
    expect(comments[0]?.body).toContain(`sha="${headSha}"`);
    // Links come from GITHUB_SERVER_URL + GITHUB_REPOSITORY, not github.com.
    expect(comments[0]?.body).toContain(`${server.webUrl}/${server.owner}/${server.repo}/`);
    expect(comments[0]?.body).not.toContain('https://github.com/');

    // Every output, and the report behind them.
    expect(Object.keys(first.outputs).sort()).toEqual(
      ['comment-url', 'markdown', 'peak-delta', 'report', 'retained-delta', 'verdict'].sort(),
    );
    expect(first.outputs['verdict']).toBe('fail');
    expect(first.outputs['comment-url']).toBe(
      `${server.webUrl}/${server.owner}/${server.repo}/pull/${PR}#issuecomment-${comments[0]?.id}`,
    );
    const report = parseCompareReport(await readFile(first.outputs['report'] as string, 'utf8'));
    expect(report.head.sha).toBe(mergeSha);
    // The test merge commit's first parent, the base branch tip, is the base.
    expect(report.base.sha).toBe(baseTip);
    expect(Number(first.outputs['retained-delta'])).toBeGreaterThan(2_900_000);
    expect(Number(first.outputs['retained-delta'])).toBe(report.scenarios[0]?.delta.retained);
    expect(Number(first.outputs['peak-delta'])).toBe(report.scenarios[0]?.delta.peak);
    expect((await readFile(first.outputs['markdown'] as string, 'utf8')).trim()).toBe(first.summary.trim());
    // The job summary holds the report.
    expect(first.summary).toContain('bench.py');
    expect(first.summary).toContain('KEPT.append');
    // The annotation points at the project line that grew.
    const line = WORK.replace('    buf =', '    KEPT.append(bytearray(3_000_000))\n    buf =')
      .split('\n')
      .findIndex((l) => l.includes('KEPT.append'));
    expect(first.stdout).toContain(
      `::warning file=pkg/work.py,line=${line + 1},title=memdelta%3A bench.py::`,
    );
    // The benchmark ran (both sides) without the token, the inputs or the workflow-command files.
    expect(first.benchEnv.length).toBeGreaterThanOrEqual(2);
    for (const names of first.benchEnv) {
      expect(
        names.filter((n) =>
          /^(INPUT_|GITHUB_TOKEN|GITHUB_OUTPUT|GITHUB_STEP_SUMMARY|GITHUB_ENV|ACTIONS_)/.test(n),
        ),
      ).toEqual([]);
    }
    // The benchmark's progress was printed with workflow commands stopped.
    const stop = /::stop-commands::(memdelta-[0-9a-f]{32})/.exec(first.stdout);
    expect(stop).not.toBeNull();
    expect(first.stdout).toContain(`::${stop?.[1]}::`);

    const second = await act('pull_request', pullEvent());
    expect(second.code).toBe(1);
    expect(server.commentsOn(PR)).toHaveLength(1);
    expect(server.count(UPDATE)).toBe(1);
    expect(server.count(CREATE)).toBe(1);

    const other = await act('pull_request', pullEvent(), { 'comment-key': 'nightly' });
    expect(other.code).toBe(1);
    const keyed = server.commentsOn(PR);
    expect(keyed).toHaveLength(2);
    expect(keyed.filter((c) => c.body.startsWith(markerFor('nightly')))).toHaveLength(1);

    const accepted = await act('pull_request', pullEvent(['memdelta: accept increase'], 'labeled'));
    expect(accepted.code, accepted.stdout).toBe(0);
    expect(accepted.outputs['verdict']).toBe('fail');
    expect(accepted.stdout).not.toContain('::error::');
    expect(accepted.summary).toContain('memdelta: accept increase');
    expect(accepted.summary).toContain('KEPT.append');
    const updated = server.commentsOn(PR).find((c) => c.body.startsWith(markerFor('default')));
    expect(updated?.body).toContain('is accepted and does not fail the check');
  });

  it('on a 403 warns once naming pull-requests: write, still writes the summary, and exits by the verdict', async () => {
    server.inject(CREATE, { kind: 'permission' });
    const r = await act('pull_request', pullEvent(['memdelta: accept increase']));
    expect(r.code, r.stdout).toBe(0);
    const warnings = r.stdout.split('\n').filter((l) => l.startsWith('::warning::'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('pull-requests: write');
    expect(server.commentsOn(PR)).toHaveLength(0);
    expect(r.summary).toContain('KEPT.append');
    expect(r.outputs['comment-url']).toBe('');
    // The report is in the log, collapsed.
    expect(r.stdout).toMatch(/::group::memdelta report \(markdown\)[\s\S]*KEPT\.append[\s\S]*::endgroup::/);

    server.inject(CREATE, { kind: 'permission' });
    const failing = await act('pull_request', pullEvent());
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/::error::memdelta: over budget/);
  });

  it('refuses pull_request_target with the pull request checked out, linking the guidance', async () => {
    const r = await act('pull_request_target', pullEvent());
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('::error::Refusing to run');
    expect(r.stdout).toContain(
      'https://securitylab.github.com/resources/github-actions-preventing-pwn-requests/',
    );
    expect(server.count(CREATE)).toBe(0);
  });
});

describe('the two-workflow pattern for fork pull requests', () => {
  it('measures without commenting, then comments on the pull request the workflow_run resolves, not the report', async () => {
    const measured = await act('pull_request', pullEvent(), {
      mode: 'measure',
      'report-file': 'out/memdelta-report.json',
      'github-token': '',
    });
    expect(measured.code).toBe(1);
    expect(server.requests).toHaveLength(0);
    const path = join(repo.dir, 'out/memdelta-report.json');
    expect(measured.outputs['report']).toBe(path);
    const text = await readFile(path, 'utf8');
    await rm(join(repo.dir, 'out'), { recursive: true });

    // The measuring run executed PR code: its artifact may say anything. Here it claims to be pull request #9.
    const tampered = JSON.parse(text) as {
      head: { ref: string };
      base: { ref: string };
      settings: { repositoryUrl: string };
    };
    tampered.head.ref = `refs/pull/${OTHER_PR}/merge`;
    tampered.base.ref = `#${OTHER_PR}`;
    tampered.settings.repositoryUrl = 'https://evil.example/phish';
    const download = join(repo.dir, 'artifact');
    await mkdir(download, { recursive: true });
    await writeFile(join(download, 'memdelta-report.json'), JSON.stringify(tampered));

    const run = {
      id: 4242,
      event: 'pull_request',
      head_sha: headSha,
      head_branch: 'feature',
      head_repository: { full_name: `${server.owner}/${server.repo}` },
      // GitHub leaves this empty for pull requests from forks.
      pull_requests: [],
      conclusion: 'failure',
    };
    try {
      const commented = await act(
        'workflow_run',
        { action: 'completed', workflow_run: run },
        { mode: 'comment', 'report-file': 'artifact/memdelta-report.json' },
      );
      // Publishing an untrusted report does not gate; the measuring run's check did.
      expect(commented.code, commented.stdout).toBe(0);
      expect(server.count('GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls')).toBe(1);
      expect(server.commentsOn(OTHER_PR)).toHaveLength(0);
      const comments = server.commentsOn(PR);
      expect(comments).toHaveLength(1);
      expect(comments[0]?.body).toContain('KEPT.append');
      expect(comments[0]?.body).not.toContain('evil.example');
      expect(commented.outputs['verdict']).toBe('fail');
      expect(commented.summary).toContain('KEPT.append');
    } finally {
      await rm(download, { recursive: true, force: true });
    }
  });
});

describe('the sticky comment through the bundle', () => {
  it('finds its comment on page 3 of 250 and leaves another user’s comment with the marker alone', async () => {
    const octocat = { login: 'octocat', id: 583231, type: 'User' as const };
    const marker = markerFor('default');
    let ours = 0;
    let theirs = 0;
    for (let i = 0; i < 250; i++) {
      if (i === 3)
        theirs = server.addComment({
          issueNumber: PR,
          body: `${marker}\nI copied the marker`,
          user: octocat,
        }).id;
      else if (i === 230)
        ours = server.addComment({ issueNumber: PR, body: `${marker}\nold result`, user: ACTIONS_BOT }).id;
      else server.addComment({ issueNumber: PR, body: `comment ${i}`, user: i % 2 ? octocat : ACTIONS_BOT });
    }
    const r = await act('pull_request', pullEvent(['memdelta: accept increase']));
    expect(r.code, r.stdout).toBe(0);
    expect(server.count(CREATE)).toBe(0);
    expect(server.count(LIST)).toBeGreaterThanOrEqual(3);
    const updates = server.requests.filter((q) => q.route === UPDATE);
    expect(updates.map((q) => q.path.split('/').pop())).toEqual([String(ours)]);
    expect(server.comments.find((c) => c.id === theirs)?.body).toBe(`${marker}\nI copied the marker`);
    expect(server.comments.find((c) => c.id === ours)?.body).toContain('KEPT.append');
    expect(server.commentsOn(PR)).toHaveLength(250);
  });

  it('waits out a secondary rate limit and survives a 502 that did create the comment: still one comment', async () => {
    server.inject(CREATE, { kind: 'secondary-rate-limit', retryAfter: 1 });
    const limited = await act('pull_request', pullEvent(['memdelta: accept increase']));
    expect(limited.code, limited.stdout).toBe(0);
    expect(server.commentsOn(PR)).toHaveLength(1);

    await server.stop();
    server = new GitHubServer();
    await server.start();
    server.addPull({ number: PR, headSha, baseSha: baseTip });
    server.inject(CREATE, { kind: 'after', status: 502 });
    const flaky = await act('pull_request', pullEvent(['memdelta: accept increase']));
    expect(flaky.code, flaky.stdout).toBe(0);
    expect(server.commentsOn(PR)).toHaveLength(1);
    expect(server.commentsOn(PR)[0]?.body).toContain('KEPT.append');
  });

  it('waits for an exhausted primary rate limit to reset, then comments', async () => {
    server.inject(LIST, { kind: 'primary-rate-limit', resetInMs: 1500 });
    const started = Date.now();
    const r = await act('pull_request', pullEvent(['memdelta: accept increase']));
    expect(r.code, r.stdout).toBe(0);
    expect(server.commentsOn(PR)).toHaveLength(1);
    // The list was refused once and asked again after the reset.
    expect(server.count(LIST)).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('cuts a 200 000-character report to at most 65 536 characters in the comment, marker first', async () => {
    const site = (i: number) => ({
      file: `pkg/module_${i % 40}.py`,
      function: `Handler.handle_${i}`,
      line: 10 + i,
      code: `buffers_${i}.append(bytearray(${1000 + i}) + b"${'x'.repeat(180)}")`,
      status: 'new' as const,
      peak: { base: 0, head: 20_000 + i, delta: 20_000 + i },
      retained: { base: 0, head: 20_000 + i, delta: 20_000 + i },
    });
    const scenarios = Array.from({ length: 70 }, (_, n) => ({
      name: `scenario-${n}`,
      status: 'ok' as const,
      base: { peak: 1_000_000, retained: 0 },
      head: { peak: 9_000_000, retained: 4_000_000 },
      delta: { peak: 8_000_000, retained: 4_000_000 },
      budget: [{ rule: 'peak: +5%', limit: 50_000, actual: 8_000_000, level: 'fail' as const, ok: false }],
      sites: Array.from({ length: 200 }, (_, i) => site(i)),
      sameSites: 0,
    }));
    const report: CompareReport = {
      schema: 'memdelta/compare@1',
      verdict: 'fail',
      base: { ref: 'main', sha: baseTip },
      head: { ref: 'feature', sha: headSha },
      scenarios,
      settings: { frames: 4, minDelta: { bytes: 8192, percent: 0.1 }, memdeltaVersion: '0.1.0' },
    };
    const download = join(repo.dir, 'big-artifact');
    await mkdir(download, { recursive: true });
    await writeFile(join(download, 'memdelta-report.json'), JSON.stringify(report));
    const run = {
      id: 4343,
      event: 'pull_request',
      head_sha: headSha,
      head_branch: 'feature',
      head_repository: { full_name: `${server.owner}/${server.repo}` },
      pull_requests: [],
      conclusion: 'failure',
    };
    try {
      const r = await act(
        'workflow_run',
        { action: 'completed', workflow_run: run },
        { mode: 'comment', 'report-file': 'big-artifact/memdelta-report.json' },
      );
      expect(r.code, r.stdout).toBe(0);
      // The full rendering (the job summary) is far over the comment limit ...
      expect(r.summary.length).toBeGreaterThan(200_000);
      // ... the comment is not, and it still starts with the marker and shows the failing scenarios.
      const [comment] = server.commentsOn(PR);
      expect(comment).toBeDefined();
      expect(comment!.body.length).toBeLessThanOrEqual(65_536);
      expect(comment!.body.startsWith(markerFor('default'))).toBe(true);
      expect(comment!.body).toContain('scenario-0');
      expect(comment!.body).toMatch(/job summary/i);
    } finally {
      await rm(download, { recursive: true, force: true });
    }
  });
});
