import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { actionTables, withActionTables } from '../../src/action/readme-table.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('README action tables', () => {
  it('match action.yml (run `npx node scripts/action-docs.mjs` after changing action.yml)', async () => {
    const readme = await readFile(resolve(ROOT, 'README.md'), 'utf8');
    const yml = await readFile(resolve(ROOT, 'action.yml'), 'utf8');
    expect(withActionTables(readme, yml)).toBe(readme);
  });

  it('list every input with its default and every output', async () => {
    const yml = await readFile(resolve(ROOT, 'action.yml'), 'utf8');
    const doc = parse(yml) as {
      inputs: Record<string, { default: string }>;
      outputs: Record<string, unknown>;
    };
    const t = actionTables(yml);
    for (const name of Object.keys(doc.inputs)) expect(t.inputs).toContain(`| \`${name}\` |`);
    for (const name of Object.keys(doc.outputs)) expect(t.outputs).toContain(`| \`${name}\` |`);
    expect(t.inputs).toContain('| `accept-label` | `memdelta: accept increase` |');
  });

  it('escapes table pipes and code in descriptions', () => {
    const t = actionTables('inputs:\n  a:\n    description: x | y\n    default: "`b`"\n');
    expect(t.inputs).toContain('| `a` | `` `b` `` | x \\| y |');
  });
});
