// Runs the probe's unittest suite on every Python 3.9–3.13 that pyenv has (or python3 alone without pyenv),
// prints which versions ran, and fails if any failed or none ran.
import { execFileSync, spawnSync } from 'node:child_process';

const wanted = /^3\.(9|10|11|12|13)\.\d+$/;
let versions;
try {
  versions = execFileSync('pyenv', ['versions', '--bare'], { encoding: 'utf8' })
    .split('\n')
    .map((v) => v.trim())
    .filter((v) => wanted.test(v));
} catch {
  versions = [];
}

const runs =
  versions.length > 0
    ? versions.map((v) => ({ label: v, env: { PYENV_VERSION: v } }))
    : [{ label: 'python3', env: {} }];
const results = [];
for (const run of runs) {
  console.log(`\n--- probe tests on Python ${run.label}`);
  const r = spawnSync('python3', ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'], {
    cwd: new URL('../py-probe', import.meta.url),
    env: { ...process.env, ...run.env },
    stdio: 'inherit',
  });
  results.push({ label: run.label, ok: r.status === 0 });
}
console.log('\nprobe tests ran on: ' + results.map((r) => `${r.label} ${r.ok ? 'ok' : 'FAILED'}`).join(', '));
if (results.some((r) => !r.ok)) process.exit(1);
