// Rewrites the inputs and outputs tables in README.md from action.yml (Node 24 runs the TypeScript module directly).
// Usage: npx node scripts/action-docs.mjs (Node 24, the devDependency)
import { readFile, writeFile } from 'node:fs/promises';
import { withActionTables } from '../src/action/readme-table.ts';

const readmeUrl = new URL('../README.md', import.meta.url);
const readme = await readFile(readmeUrl, 'utf8');
const next = withActionTables(readme, await readFile(new URL('../action.yml', import.meta.url), 'utf8'));
if (next !== readme) {
  await writeFile(readmeUrl, next);
  console.log('README.md: action tables updated');
} else {
  console.log('README.md: action tables are current');
}
