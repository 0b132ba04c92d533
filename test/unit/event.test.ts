import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EventError,
  PWN_REQUEST_GUIDANCE,
  resolveCompareTarget,
  type ActionEvent,
} from '../../src/action/event.js';
import { makeGit } from '../../src/run/git.js';
import { makeRepo, type TestRepo } from '../support/git-repo.js';

let repo: TestRepo;
let fork: string;
let feature: string;
let mainTip: string;
let merge: string;

beforeAll(async () => {
  // fork point ← feature (the PR head); fork point ← main tip; merge = GitHub's test merge commit.
  repo = await makeRepo([
    { files: { 'a.py': '1\n' }, message: 'fork point' },
    { branch: 'feature', files: { 'a.py': '2\n' }, message: 'feature' },
    { branch: 'main', files: { 'b.py': '3\n' }, message: 'main moves on' },
  ]);
  [fork, feature, mainTip] = repo.shas as [string, string, string];
  await repo.git('checkout', '--quiet', '--detach', mainTip);
  await repo.git('merge', '--quiet', '--no-ff', '-m', 'merge', feature);
  merge = await repo.git('rev-parse', 'HEAD');
});

afterAll(() => repo.remove());

function pullEvent(name = 'pull_request', labels: string[] = []): ActionEvent {
  return {
    name,
    sha: merge,
    repository: 'o/r',
    payload: {
      pull_request: {
        number: 3,
        labels: labels.map((n) => ({ name: n })),
        head: { sha: feature },
        base: { sha: mainTip },
      },
    },
  };
}

const git = () => makeGit(repo.dir);
const opts = { allowUntrustedCheckout: false };

async function at(sha: string): Promise<void> {
  await repo.git('checkout', '--quiet', '--detach', sha);
}

describe('pull_request', () => {
  it('compares the test merge commit with its first parent, the base branch tip', async () => {
    await at(merge);
    const t = await resolveCompareTarget(pullEvent('pull_request', ['x']), git(), opts);
    expect(t).toMatchObject({
      base: mainTip,
      head: merge,
      pull: { number: 3, headSha: feature, labels: ['x'] },
    });
  });

  it('compares a checked-out PR head with its merge-base with the base branch', async () => {
    await at(feature);
    const t = await resolveCompareTarget(pullEvent(), git(), opts);
    expect(t.base).toBe(fork);
    expect(t.head).toBe(feature);
  });

  it('lets base-ref override the event', async () => {
    await at(merge);
    const t = await resolveCompareTarget(pullEvent(), git(), { ...opts, baseRef: fork });
    expect(t.base).toBe(fork);
  });

  it('rejects a payload without a usable pull request', async () => {
    await expect(
      resolveCompareTarget({ ...pullEvent(), payload: { pull_request: { number: 'x' } } }, git(), opts),
    ).rejects.toThrow(/no usable pull_request/);
  });
});

describe('pull_request_target', () => {
  it('refuses a checkout of the pull request code, with the guidance link', async () => {
    for (const sha of [merge, feature]) {
      await at(sha);
      const e = await resolveCompareTarget(pullEvent('pull_request_target'), git(), opts).catch(
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(EventError);
      expect((e as Error).message).toContain(PWN_REQUEST_GUIDANCE);
      expect((e as Error).message).toContain('allow-untrusted-checkout');
    }
  });

  it('runs with allow-untrusted-checkout, and says so loudly', async () => {
    await at(merge);
    const t = await resolveCompareTarget(pullEvent('pull_request_target'), git(), {
      allowUntrustedCheckout: true,
    });
    expect(t.base).toBe(mainTip);
    expect(t.untrustedWarning).toContain(PWN_REQUEST_GUIDANCE);
  });

  it('explains that the base branch checkout has nothing to compare', async () => {
    await at(mainTip);
    await expect(resolveCompareTarget(pullEvent('pull_request_target'), git(), opts)).rejects.toThrow(
      /checks out the base branch/,
    );
  });
});

describe('other events', () => {
  const event = (name: string, payload: Record<string, unknown>): ActionEvent => ({
    name,
    payload,
    sha: mainTip,
    repository: 'o/r',
  });

  it('push compares with before, and a branch creation asks for base-ref', async () => {
    await at(mainTip);
    const t = await resolveCompareTarget(event('push', { before: fork }), git(), opts);
    expect(t).toMatchObject({ base: fork, head: mainTip });
    await expect(
      resolveCompareTarget(event('push', { before: '0'.repeat(40) }), git(), opts),
    ).rejects.toThrow(/all zeros.*base-ref/);
  });

  it('merge_group compares with the group base', async () => {
    await at(mainTip);
    const t = await resolveCompareTarget(
      event('merge_group', { merge_group: { base_sha: fork } }),
      git(),
      opts,
    );
    expect(t.base).toBe(fork);
  });

  it('workflow_dispatch needs base-ref', async () => {
    await at(mainTip);
    await expect(resolveCompareTarget(event('workflow_dispatch', {}), git(), opts)).rejects.toThrow(
      /base-ref/,
    );
    const t = await resolveCompareTarget(event('workflow_dispatch', {}), git(), {
      ...opts,
      baseRef: 'feature',
    });
    expect(t.base).toBe('feature');
  });

  it('names the supported events for anything else', async () => {
    await expect(resolveCompareTarget(event('issues', {}), git(), opts)).rejects.toThrow(
      /does not support the "issues" event.*pull_request/,
    );
    await expect(resolveCompareTarget(event('workflow_run', {}), git(), opts)).rejects.toThrow(
      /mode: comment/,
    );
  });
});
