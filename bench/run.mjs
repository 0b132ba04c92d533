// `npm run bench`: bundles the TypeScript benchmarks with esbuild into node_modules/.cache/memdelta-bench/ (ignored
// by git and the linters) and runs them on this Node with --expose-gc, so every measurement starts from a collected
// heap. Arguments are passed through, e.g. `npm run bench -- --only=diff --reps=9`.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const out = fileURLToPath(new URL('../node_modules/.cache/memdelta-bench/main.mjs', import.meta.url));
await build({
  entryPoints: [fileURLToPath(new URL('./main.ts', import.meta.url))],
  outfile: out,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);",
  },
});
const r = spawnSync(process.execPath, ['--expose-gc', out, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
