import { describe, expect, it } from 'vitest';
import { matchSites } from '../../src/report/match.js';
import type { ProbeSite } from '../../src/report/types.js';

function site(p: Partial<ProbeSite> & Pick<ProbeSite, 'line' | 'stmt'>): ProbeSite {
  return {
    file: 'pkg/mod.py',
    function: 'work',
    code: p.stmt,
    ordinal: 0,
    via: null,
    peak: 0,
    retained: 1000,
    leak: null,
    count: 1,
    ...p,
  };
}

describe('matchSites', () => {
  it('pairs sites by statement, not by line, when code is inserted above them', () => {
    const base = [site({ line: 10, stmt: 'a=[0]*100' }), site({ line: 20, stmt: 'b=bytearray(10)' })];
    const head = [site({ line: 35, stmt: 'a=[0]*100' }), site({ line: 47, stmt: 'b=bytearray(10)' })];
    const pairs = matchSites(base, head);
    expect(pairs).toHaveLength(2);
    for (const p of pairs) {
      expect(p.base?.stmt).toBe(p.head?.stmt);
      expect(p.head?.line).toBeGreaterThan(p.base!.line);
    }
  });

  it('treats a changed statement as a new site and a removed one', () => {
    const pairs = matchSites(
      [site({ line: 5, stmt: 'b=bytearray(10)' })],
      [site({ line: 5, stmt: 'b=bytearray(20)' })],
    );
    expect(pairs).toHaveLength(2);
    expect(pairs.filter((p) => p.head && !p.base)).toHaveLength(1);
    expect(pairs.filter((p) => p.base && !p.head)).toHaveLength(1);
  });

  it('keeps sites apart across functions and files even with the same statement', () => {
    const base = [site({ line: 1, stmt: 'x=[]' }), site({ line: 9, stmt: 'x=[]', function: 'other' })];
    const head = [
      site({ line: 1, stmt: 'x=[]', file: 'pkg/two.py' }),
      site({ line: 9, stmt: 'x=[]', function: 'other' }),
    ];
    const pairs = matchSites(base, head);
    expect(pairs.filter((p) => p.base && p.head)).toHaveLength(1);
    expect(pairs.find((p) => p.base && p.head)?.head?.function).toBe('other');
    expect(pairs).toHaveLength(3);
  });

  it('pairs twins whose occurrence index shifted because an identical statement was removed above', () => {
    // Base allocates at the second of two identical statements (ordinal 1); head deleted the first one, so the
    // same allocation now has ordinal 0. Identity alone would call it new + removed.
    const base = [site({ line: 7, stmt: 'x=[]', ordinal: 1, retained: 4096 })];
    const head = [site({ line: 5, stmt: 'x=[]', ordinal: 0, retained: 4096 })];
    const pairs = matchSites(base, head);
    expect(pairs).toHaveLength(1);
    expect(pairs[0]?.base?.line).toBe(7);
    expect(pairs[0]?.head?.line).toBe(5);
  });

  it('sums a repeated identity instead of dropping bytes', () => {
    const pairs = matchSites(
      [],
      [site({ line: 1, stmt: 's', retained: 10 }), site({ line: 1, stmt: 's', retained: 5 })],
    );
    expect(pairs).toHaveLength(1);
    expect(pairs[0]?.head?.retained).toBe(15);
  });
});
