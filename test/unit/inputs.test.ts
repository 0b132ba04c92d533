import { describe, expect, it } from 'vitest';
import { InputError, readInputs } from '../../src/action/inputs.js';

/** A reader over the given values, empty for the rest (as the runner passes defaults, empty ones included). */
function reader(values: Record<string, string>) {
  return (name: string) => values[name] ?? '';
}

describe('readInputs', () => {
  it('applies defaults for empty inputs', () => {
    const i = readInputs(reader({ 'github-token': 't' }));
    expect(i).toMatchObject({
      githubToken: 't',
      config: undefined,
      run: undefined,
      workingDirectory: '.',
      budgets: [],
      comment: 'always',
      commentKey: 'default',
      failOn: 'fail',
      acceptLabel: 'memdelta: accept increase',
      annotations: true,
      mode: 'run',
      reportFile: 'memdelta-report.json',
      allowUntrustedCheckout: false,
    });
  });

  it('parses budgets line by line, dropping blanks and comments', () => {
    const i = readInputs(reader({ budget: 'peak: +5%\n\n# a comment\nwarn retained: +512KiB  # why\n' }));
    expect(i.budgets).toEqual(['peak: +5%', 'warn retained: +512KiB']);
  });

  it('converts timeout-minutes to the engine timeout', () => {
    expect(readInputs(reader({ 'timeout-minutes': '15' })).timeout).toBe('15m');
  });

  it.each([
    [{ comment: 'sometimes' }, /Input "comment" is "sometimes"; use one of "always", "on-change"/],
    [{ 'fail-on': 'error' }, /Input "fail-on"/],
    [{ mode: 'both' }, /Input "mode"/],
    [{ annotations: 'yes' }, /Input "annotations" is "yes"; use true or false/],
    [{ 'allow-untrusted-checkout': '1' }, /Input "allow-untrusted-checkout"/],
    [{ iterations: '0' }, /Input "iterations" is "0"; use a whole number from 1/],
    [{ frames: '4.5' }, /Input "frames"/],
    [{ 'timeout-minutes': 'soon' }, /Input "timeout-minutes"/],
    [{ 'min-delta': 'lots' }, /Input "min-delta"/],
    [{ budget: 'peak: +5%\npeek: +1%' }, /Input "budget", line 2: .*unknown metric "peek"/],
    [{ 'comment-key': 'a b' }, /Input "comment-key"/],
    [{ 'working-directory': '../elsewhere' }, /Input "working-directory"/],
    [{ 'report-file': '/etc/passwd' }, /Input "report-file"/],
    [{ config: 'a.yml', run: 'bench.py' }, /"config", "run" and "pytest" are set together/],
    [{ run: 'bench.py', pytest: 'tests' }, /"config", "run" and "pytest" are set together/],
    [{ mode: 'comment', 'github-token': '' }, /Input "github-token" is empty/],
  ] as [Record<string, string>, RegExp][])('rejects %j naming the input', (values, message) => {
    const read = () => readInputs(reader({ 'github-token': 't', ...values }));
    expect(read).toThrow(InputError);
    expect(read).toThrow(message);
  });

  it('accepts YAML booleans in any case the runner allows', () => {
    expect(readInputs(reader({ annotations: 'False', 'allow-untrusted-checkout': 'TRUE' }))).toMatchObject({
      annotations: false,
      allowUntrustedCheckout: true,
    });
  });
});
