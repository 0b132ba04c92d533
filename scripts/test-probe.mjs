// Runs the probe's unittest suite on every Python 3.9–3.13 that pyenv has (or python3 alone without pyenv),
// then the pytest plugin's tests on every one of those interpreters, and Debian's /usr/bin/python3, that can
// import pytest (they are skipped elsewhere). Prints which versions ran; fails if any failed or none ran.
import { execFileSync, spawnSync } from 'node:child_process';

const probeDir = new URL('../py-probe', import.meta.url);
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
    ? versions.map((v) => ({ label: v, python: 'python3', env: { PYENV_VERSION: v } }))
    : [{ label: 'python3', python: 'python3', env: {} }];
const results = [];
for (const run of runs) {
  console.log(`\n--- probe tests on Python ${run.label}`);
  const r = spawnSync(run.python, ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'], {
    cwd: probeDir,
    env: { ...process.env, ...run.env },
    stdio: 'inherit',
  });
  results.push({ label: run.label, ok: r.status === 0 });
}
console.log('\nprobe tests ran on: ' + results.map((r) => `${r.label} ${r.ok ? 'ok' : 'FAILED'}`).join(', '));

// The plugin's tests with MEMDELTA_REQUIRE_PYTEST=1, where a missing pytest is a failure, not a skip. One run
// per distinct interpreter: without pyenv, python3 may well be /usr/bin/python3.
const whoAmI =
  "import os, platform, sys, pytest; print(os.path.realpath(sys.executable), platform.python_version(), pytest.__version__, sep='\\n')";
const seen = new Set();
const pluginResults = [];
for (const run of [...runs, { label: '/usr/bin/python3', python: '/usr/bin/python3', env: {} }]) {
  const env = { ...process.env, ...run.env };
  const probe = spawnSync(run.python, ['-c', whoAmI], { env, encoding: 'utf8' });
  if (probe.status !== 0) continue;
  const [exe, python, pytest] = probe.stdout.trim().split('\n');
  if (seen.has(exe)) continue;
  seen.add(exe);
  const label = `${run.label} (Python ${python}, pytest ${pytest})`;
  console.log(`\n--- pytest plugin tests on ${label}`);
  const r = spawnSync(run.python, ['-m', 'unittest', 'tests.test_pytest_plugin', '-v'], {
    cwd: probeDir,
    env: { ...env, MEMDELTA_REQUIRE_PYTEST: '1' },
    stdio: 'inherit',
  });
  pluginResults.push({ label, ok: r.status === 0 });
}
if (pluginResults.length === 0) {
  console.log('\npytest plugin tests ran nowhere: no interpreter here can import pytest');
} else {
  console.log(
    '\npytest plugin tests ran on: ' +
      pluginResults.map((r) => `${r.label} ${r.ok ? 'ok' : 'FAILED'}`).join(', '),
  );
}
if (results.some((r) => !r.ok) || pluginResults.length === 0 || pluginResults.some((r) => !r.ok)) {
  process.exit(1);
}
