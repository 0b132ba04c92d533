/**
 * Action mode aggregate through the bundle (dist/index.js) against the loopback GitHub API: the partial reports of
 * three shards, downloaded into a folder (one per artifact folder), become one comment, one summary and one verdict.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markerFor } from '../../src/action/comment.js';
import type { CompareReport } from '../../src/report/types.js';
import { pullPayload, runAction, type ActionContext, contextFor } from '../support/action.js';
import { runCliInProcess } from '../support/cli.js';
import { makeRepo, makeTempDir, type TestRepo } from '../support/git-repo.js';
import { GitHubServer } from '../support/github-server.js';

const PR = 12;
const NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
let repo: TestRepo;
let tmp: string;
let server: GitHubServer;
let ctx: ActionContext;

beforeAll(async () => {
  tmp = await makeTempDir('memdelta-aggregate-');
  const config = ['scenarios:', ...NAMES.map((n) => `  - { name: ${n}, run: "b_${n}.py" }`)].join('\n');
  const files: Record<string, string> = { '.memdelta.yml': config };
  for (const n of NAMES) files[`b_${n}.py`] = 'data = [bytearray(1000) for _ in range(1000)]\n';
  repo = await makeRepo([
    { files },
    { files: { 'b_alpha.py': 'data = [bytearray(1000) for _ in range(4000)]\n' } },
  ]);
  // The measuring jobs: one partial report per shard, each in its own artifact folder.
  for (const i of [1, 2, 3]) {
    await mkdir(join(repo.dir, 'shards', `memdelta-shard-${i}`), { recursive: true });
    const { code } = await runCliInProcess(
      [
        'compare',
        '--base',
        repo.shas[0]!,
        '--head',
        repo.shas[1]!,
        '--shard',
        `${i}/3`,
        '--quiet',
        '--no-cache',
        '--json',
        join(repo.dir, 'shards', `memdelta-shard-${i}`, 'report.json'),
      ],
      { cwd: repo.dir },
    );
    expect(code).toBeLessThanOrEqual(1);
  }
  server = new GitHubServer();
  await server.start();
  server.addPull({ number: PR, headSha: repo.shas[1]!, baseSha: repo.shas[0]! });
  ctx = contextFor(server, repo.dir, repo.shas[1]!, tmp);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await repo?.remove();
  await rm(tmp, { recursive: true, force: true });
});

describe('action mode aggregate', () => {
  it('merges three shards into one comment, one summary and one failing verdict', async () => {
    const payload = pullPayload(ctx, PR, repo.shas[1]!, repo.shas[0]!);
    const ran = await runAction(ctx, 'pull_request', payload, { mode: 'aggregate', reports: 'shards' });
    expect(ran.code, ran.stderr + ran.stdout).toBe(1);
    expect(ran.outputs['verdict']).toBe('fail');
    const merged = JSON.parse(await readFile(ran.outputs['report'] as string, 'utf8')) as CompareReport;
    expect(merged.scenarios.map((s) => s.name)).toEqual(NAMES);
    expect(merged.shard).toBeUndefined();
    const comments = server.commentsOn(PR);
    expect(comments).toHaveLength(1);
    expect(comments[0]?.body.startsWith(markerFor('default'))).toBe(true);
    for (const n of NAMES) expect(ran.summary).toContain(n);
    expect(server.violations).toEqual([]);
  });

  it('fails naming the missing shard and the file of a forged report', async () => {
    const payload = pullPayload(ctx, PR, repo.shas[1]!, repo.shas[0]!);
    await mkdir(join(repo.dir, 'two'), { recursive: true });
    for (const i of [1, 2]) {
      const text = await readFile(join(repo.dir, 'shards', `memdelta-shard-${i}`, 'report.json'), 'utf8');
      await writeFile(join(repo.dir, 'two', `shard-${i}.json`), text);
    }
    const missing = await runAction(ctx, 'pull_request', payload, {
      mode: 'aggregate',
      reports: 'two',
      comment: 'never',
    });
    expect(missing.code).toBe(1);
    expect(missing.outputs['verdict']).toBe('error');
    expect(missing.stdout).toContain('shard 3/3 is missing');

    await writeFile(
      join(repo.dir, 'two', 'shard-2.json'),
      '{"schema": "memdelta/compare@1", "verdict": "pass"}',
    );
    const forged = await runAction(ctx, 'pull_request', payload, {
      mode: 'aggregate',
      reports: 'two',
      comment: 'never',
    });
    expect(forged.code).toBe(1);
    expect(forged.stdout).toMatch(/two\/shard-2\.json: the compare report's field/);
  });
});
