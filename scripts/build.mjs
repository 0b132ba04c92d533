// Bundles the action (dist/index.js) and the CLI (dist/cli.js) as ESM for Node 24.
// esbuild is deterministic for the same inputs, so CI can check that dist/ is current with `git diff`.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';

await rm(new URL('../dist', import.meta.url), { recursive: true, force: true });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  sourcemap: true,
  sourcesContent: false,
  legalComments: 'none',
  logLevel: 'warning',
  // Some CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __memdeltaCreateRequire } from 'node:module'; const require = __memdeltaCreateRequire(import.meta.url);",
  },
};

await build({ ...common, entryPoints: { index: 'src/index.ts' }, outdir: 'dist' });
await build({
  ...common,
  entryPoints: { cli: 'src/cli.ts' },
  outdir: 'dist',
  banner: {
    // Checked before any bundled module runs: dependencies use Node 22+ APIs and would fail with a cryptic error.
    js:
      '#!/usr/bin/env node\n' +
      "if (Number(process.versions.node.split('.')[0]) < 22) { process.stderr.write('memdelta needs Node.js 24 or newer (this is ' + process.version + ').\\n'); process.exit(2); }\n" +
      common.banner.js,
  },
});
