import { describe, expect, it } from 'vitest';
import { InputError, readInputs } from '../../src/action/inputs.js';

const read = (v: Record<string, string>) => (name: string) => v[name] ?? '';

describe('action inputs for scale', () => {
  it('reads shard with mode measure, and refuses it elsewhere or malformed', () => {
    expect(readInputs(read({ mode: 'measure', shard: '2/4' })).shard).toEqual({ index: 2, count: 4 });
    expect(readInputs(read({})).shard).toBeUndefined();
    expect(() => readInputs(read({ shard: '2/4' }))).toThrow(/Input "shard" needs mode "measure"/);
    expect(() => readInputs(read({ mode: 'measure', shard: '5/4' }))).toThrow(InputError);
    expect(() => readInputs(read({ mode: 'measure', shard: '5/4' }))).toThrow(/Input "shard"/);
  });

  it('reads mode aggregate with its reports folder, inside the workspace only', () => {
    const i = readInputs(read({ mode: 'aggregate', reports: 'shards' }));
    expect(i.mode).toBe('aggregate');
    expect(i.reports).toBe('shards');
    expect(readInputs(read({ mode: 'aggregate' })).reports).toBe('memdelta-reports');
    expect(() => readInputs(read({ mode: 'aggregate', reports: '../elsewhere' }))).toThrow(/Input "reports"/);
  });

  it('reads cache as a boolean, on by default', () => {
    expect(readInputs(read({})).cache).toBe(true);
    expect(readInputs(read({ cache: 'false' })).cache).toBe(false);
    expect(() => readInputs(read({ cache: 'sometimes' }))).toThrow(/Input "cache"/);
  });
});
