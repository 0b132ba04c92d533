import { describe, expect, it } from 'vitest';
import { checkPassName, childEnv, FIXED_ENV } from '../../src/run/env.js';

const parent = {
  PATH: '/usr/bin:/bin',
  HOME: '/home/runner',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  TZ: 'UTC',
  TMPDIR: '/tmp',
  RUNNER_TRACKING_ID: 'github_1234',
  RUNNER_OS: 'Linux',
  VIRTUAL_ENV: '/work/.venv',
  'INPUT_GITHUB-TOKEN': 'ghs_input',
  INPUT_BUDGET: 'peak: +5%',
  GITHUB_TOKEN: 'ghs_token',
  GH_TOKEN: 'ghs_gh',
  ACTIONS_RUNTIME_TOKEN: 'runtime',
  ACTIONS_ID_TOKEN_REQUEST_URL: 'https://oidc.example',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc',
  ACTIONS_CACHE_URL: 'https://cache.example',
  GITHUB_ENV: '/runner/env',
  GITHUB_OUTPUT: '/runner/output',
  GITHUB_PATH: '/runner/path',
  GITHUB_STATE: '/runner/state',
  GITHUB_STEP_SUMMARY: '/runner/summary',
  GITHUB_REPOSITORY: 'o/r',
  PYTHONPATH: '/evil',
  PYTHONHOME: '/evil-home',
  PYTHONSTARTUP: '/evil.py',
  PYTHONHASHSEED: 'random',
  AWS_SECRET_ACCESS_KEY: 'aws',
  NPM_TOKEN: 'npm',
  BENCH_SIZE: '1000',
  UNDEFINED_ONE: undefined,
};

describe('childEnv', () => {
  it('keeps the allow-list and drops everything else, tokens and PYTHON* included', () => {
    const env = childEnv({ parent });
    expect(env).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/home/runner',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      TZ: 'UTC',
      TMPDIR: '/tmp',
      RUNNER_TRACKING_ID: 'github_1234',
      RUNNER_OS: 'Linux',
      VIRTUAL_ENV: '/work/.venv',
      PYTHONHASHSEED: '0',
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONUNBUFFERED: '1',
    });
  });

  it('sets PYTHONPATH to the probe folder only and the fixed variables last', () => {
    const env = childEnv({ parent, pythonPath: '/opt/memdelta/py-probe', set: { BENCH_N: '5' } });
    expect(env.PYTHONPATH).toBe('/opt/memdelta/py-probe');
    expect(env.BENCH_N).toBe('5');
    for (const [k, v] of Object.entries(FIXED_ENV)) expect(env[k]).toBe(v);
  });

  it('passes a harmless variable by name and skips a missing one', () => {
    const env = childEnv({ parent, pass: ['BENCH_SIZE', 'NOT_SET_ANYWHERE'] });
    expect(env.BENCH_SIZE).toBe('1000');
    expect('NOT_SET_ANYWHERE' in env).toBe(false);
  });

  it.each([
    ['INPUT_GITHUB-TOKEN', 'action inputs (INPUT_*) can hold tokens and are never passed'],
    ['INPUT_BUDGET', 'action inputs (INPUT_*) can hold tokens and are never passed'],
    ['GITHUB_TOKEN', 'tokens are never passed to benchmark code'],
    ['GH_TOKEN', 'tokens are never passed to benchmark code'],
    ['ACTIONS_RUNTIME_TOKEN', 'ACTIONS_* variables hold runtime and OIDC tokens and are never passed'],
    ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_* variables hold runtime and OIDC tokens and are never passed'],
    ['actions_cache_url', 'ACTIONS_* variables hold runtime and OIDC tokens and are never passed'],
    ['GITHUB_ENV', 'workflow command files would let benchmark code change the job'],
    ['GITHUB_STEP_SUMMARY', 'workflow command files would let benchmark code change the job'],
    ['PYTHONPATH', 'memdelta sets this variable itself'],
    ['PYTHONHASHSEED', 'memdelta sets this variable itself'],
    ['MEMDELTA_RUN_ID', 'memdelta sets this variable itself'],
    ['NPM_TOKEN', 'the name looks like a secret'],
    ['AWS_SECRET_ACCESS_KEY', 'the name looks like a secret'],
    ['DB_PASSWORD', 'the name looks like a secret'],
    ['SSH_KEY', 'the name looks like a secret'],
  ])('refuses to pass %s, by name or by value', (name, why) => {
    expect(() => checkPassName(name)).toThrow(
      `refusing to pass environment variable ${JSON.stringify(name)}: ${why}`,
    );
    expect(() => childEnv({ parent, pass: [name] })).toThrow(why);
    expect(() => childEnv({ parent, set: { [name]: 'x' } })).toThrow(why);
  });

  it('refuses malformed names and NUL in values', () => {
    expect(() => checkPassName('A=B')).toThrow('"A=B" is not a valid environment variable name');
    expect(() => checkPassName('')).toThrow('"" is not a valid environment variable name');
    expect(() => childEnv({ set: { OK_NAME: 'a\0b' } })).toThrow('OK_NAME has a NUL character');
  });

  it('does not mistake ordinary names for secrets', () => {
    for (const name of ['BENCH_SIZE', 'AUTHOR', 'KEYBOARD_LAYOUT', 'PASSES', 'DATASET_PATH']) {
      expect(() => checkPassName(name)).not.toThrow();
    }
  });
});
