/**
 * The action in pytest mode through the release bundle (dist/index.js): a pull request whose head makes one test
 * leak gets one comment listing each test as a scenario, the annotation on the project line, a failed step, and the
 * tests themselves never see the token or the runner's command files.
 */
import { readFile, rm } from 'node:fs/promises';
import { micromark } from 'micromark';
import { gfm, gfmHtml } from 'micromark-extension-gfm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCompareReport } from '../../src/report/compare-schema.js';
import { pullPayload, runAction, tmpJson, contextFor } from '../support/action.js';
import { makeRepo, makeTempDir, type TestRepo } from '../support/git-repo.js';
import { GitHubServer } from '../support/github-server.js';
import { findPytestPython } from '../support/pytest-python.js';

const { python } = findPytestPython();
const PR = 3;
const WORK = 'KEPT = []\n\n\ndef step():\n    return bytearray(1000)\n';
const LEAKY = 'KEPT = []\n\n\ndef step():\n    KEPT.append(bytearray(50_000))\n    return bytearray(1000)\n';
// The first test records the environment the tests see.
const TESTS = `import json
import os

import pytest

from pkg import work


def test_env():
    with open(os.path.join(os.environ["TMPDIR"], "test-env-%d.json" % os.getpid()), "w") as f:
        json.dump(sorted(os.environ), f)


@pytest.mark.memdelta(iterations=10)
def test_step():
    work.step()


@pytest.mark.parametrize("name", ["<b>bold</b> @octocat"])
def test_named(name):
    assert name
`;

let repo: TestRepo;
let server: GitHubServer;
let tmp: string;

beforeAll(async () => {
  tmp = await makeTempDir('memdelta-e2e-pytest-');
  repo = await makeRepo([
    { files: { 'pkg/__init__.py': '', 'pkg/work.py': WORK, 'tests/test_work.py': TESTS } },
    { files: { 'pkg/work.py': LEAKY } },
  ]);
  server = new GitHubServer();
  await server.start();
  server.addPull({ number: PR, headSha: repo.shas[1] as string, baseSha: repo.shas[0] as string });
});
afterAll(async () => {
  await server?.stop();
  await repo?.remove();
  await rm(tmp, { recursive: true, force: true });
});

describe('the action with the pytest input', () => {
  it('compares each test, comments once, annotates the line and fails over budget', async () => {
    const head = repo.shas[1] as string;
    const ctx = contextFor(server, repo.dir, head, tmp);
    const r = await runAction(
      ctx,
      'pull_request',
      pullPayload({ repository: ctx.repository }, PR, head, repo.shas[0] as string),
      { run: '', pytest: 'tests', python },
    );
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const report = parseCompareReport(await readFile(r.outputs['report'] as string, 'utf8'));
    expect(report.scenarios.map((s) => s.name)).toEqual([
      'tests/test_work.py::test_env',
      'tests/test_work.py::test_step',
      'tests/test_work.py::test_named[<b>bold</b> @octocat]',
    ]);
    expect(report.scenarios.map((s) => s.status)).toEqual(['ok', 'ok', 'ok']);
    const step = report.scenarios[1];
    expect(step?.delta.leak).toBeGreaterThan(45_000);
    expect(step?.budget.some((b) => !b.ok)).toBe(true);

    const comments = server.commentsOn(PR);
    expect(comments).toHaveLength(1);
    const body = comments[0]?.body ?? '';
    expect(body).toContain('test_step');
    // The parametrized id is shown as text: no live HTML, no mention.
    // The parametrized id is shown as text: rendered as GitHub would, no live HTML and no mention outside code.
    const html = micromark(body, {
      allowDangerousHtml: true,
      extensions: [gfm()],
      htmlExtensions: [gfmHtml()],
    });
    const outsideCode = html.replace(/<code>[^<]*<\/code>/g, '');
    expect(html).toContain('&lt;b&gt;bold&lt;/b&gt; @octocat');
    expect(outsideCode).not.toContain('<b>');
    expect(outsideCode).not.toContain('@octocat');
    expect(r.stdout).toMatch(
      /::warning file=pkg\/work\.py,line=5,title=memdelta%3A tests\/test_work\.py%3A%3Atest_step::/,
    );
    expect(server.violations).toEqual([]);

    // pytest ran on both sides with the allow-listed environment only.
    const seen = await tmpJson<string[]>(r, 'test-env-');
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (const names of seen) {
      expect(
        names.filter((n) =>
          /^(INPUT_|GITHUB_TOKEN|GITHUB_OUTPUT|GITHUB_STEP_SUMMARY|GITHUB_ENV|ACTIONS_)/.test(n),
        ),
      ).toEqual([]);
    }
  });
});
