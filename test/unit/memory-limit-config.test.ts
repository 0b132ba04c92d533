import { describe, expect, it } from 'vitest';
import { ConfigError, resolvePlan } from '../../src/plan/config.js';
import { InputError, readInputs } from '../../src/action/inputs.js';

const MIB = 1024 * 1024;
const config = (text: string) => ({ config: { text, file: '.memdelta.yml' } });

describe('memory-limit in the plan', () => {
  it('layers defaults < --memory-limit < a scenario’s own key', () => {
    const text = [
      'defaults:',
      '  memory-limit: 1GiB',
      'scenarios:',
      '  - { name: a, run: a.py }',
      '  - { name: b, run: b.py, memory-limit: 512MiB }',
    ].join('\n');
    const fromFile = resolvePlan(config(text));
    expect(fromFile.scenarios.map((s) => s.memoryLimit)).toEqual([1024 * MIB, 512 * MIB]);
    const withFlag = resolvePlan({ ...config(text), flags: { memoryLimit: '4GiB' } });
    expect(withFlag.scenarios.map((s) => s.memoryLimit)).toEqual([4096 * MIB, 512 * MIB]);
    expect(resolvePlan({ flags: { run: 'a.py', memoryLimit: '256MiB' } }).scenarios[0]?.memoryLimit).toBe(
      256 * MIB,
    );
    expect(resolvePlan({ flags: { run: 'a.py' } }).scenarios[0]?.memoryLimit).toBeUndefined();
  });

  it('names the file, line and key of a bad limit', () => {
    const text = 'scenarios:\n  - name: a\n    run: a.py\n    memory-limit: lots\n';
    expect(() => resolvePlan(config(text))).toThrow(ConfigError);
    expect(() => resolvePlan(config(text))).toThrow(
      /\.memdelta\.yml:4: scenarios\[0\]\.memory-limit: "lots"/,
    );
    expect(() => resolvePlan({ flags: { run: 'a.py', memoryLimit: '10MiB' } })).toThrow(
      /--memory-limit: .*64MiB/,
    );
  });

  it('reads and checks the action input', () => {
    const read = (v: Record<string, string>) => (name: string) => v[name] ?? '';
    expect(readInputs(read({ 'memory-limit': '4GiB' })).memoryLimit).toBe('4GiB');
    expect(readInputs(read({})).memoryLimit).toBeUndefined();
    expect(() => readInputs(read({ 'memory-limit': '4 gigs' }))).toThrow(InputError);
    expect(() => readInputs(read({ 'memory-limit': '4 gigs' }))).toThrow(/Input "memory-limit"/);
  });
});
