/**
 * `npm run bench`: every benchmark in one run, each printing ratios of variants measured side by side.
 * Options: `--only=probe,parallel,unchanged,cache,diff,pytest` (default all), `--reps=N` (default 5), `--quick`
 * (3 reps), `--pytest-tests=N` (size of the pytest section's generated suite, default 40).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { defaultProbeDir } from '../src/run/probe.js';
import { benchCache } from './cache.js';
import { benchParallel, benchUnchanged } from './compare.js';
import { benchDiff } from './diff.js';
import { benchPytest } from './pytest.js';

const args = process.argv.slice(2);
const opt = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const quick = args.includes('--quick');
const reps = Number(opt('reps') ?? (quick ? 3 : 5));
const only = new Set((opt('only') ?? 'probe,parallel,unchanged,cache,diff,pytest').split(','));

function python(args: string[], cwd?: string) {
  return spawnSync('python3', args, { encoding: 'utf8', ...(cwd ? { cwd } : {}) });
}

function machine(): void {
  const py = python(['--version']);
  console.log('# memdelta benchmarks\n');
  console.log(`date      ${new Date().toISOString()}`);
  console.log(`cpus      ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`);
  console.log(`node      ${process.version}`);
  console.log(`python3   ${(py.stdout || py.stderr).trim()}`);
  console.log(
    `load      ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} (1, 5, 15 min) at start`,
  );
  console.log(`reps      ${reps} per variant, alternating order, medians`);
}

/** Section 1: the probe's own benchmark (probe vs plain tracemalloc vs untraced), run as its author wrote it. */
function probeBench(): void {
  console.log('\n## Probe vs plain tracemalloc vs untraced (python -m memdelta_probe.bench --quick)\n');
  const pyProbe = defaultProbeDir(import.meta.url);
  if (!existsSync(join(pyProbe, 'memdelta_probe', 'bench.py'))) {
    console.log('memdelta_probe.bench does not exist yet: skipped.');
    return;
  }
  const r = spawnSync('python3', ['-m', 'memdelta_probe.bench', '--quick'], {
    cwd: pyProbe,
    stdio: 'inherit',
  });
  if (r.status !== 0) console.log(`memdelta_probe.bench exited with ${r.status ?? r.signal}`);
}

const load = () =>
  `load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;
machine();
if (only.has('probe')) probeBench();
if (only.has('parallel')) {
  console.log(`\n(${load()})`);
  await benchParallel(reps);
}
if (only.has('unchanged')) {
  console.log(`\n(${load()})`);
  await benchUnchanged(reps);
}
if (only.has('cache')) {
  console.log(`\n(${load()})`);
  await benchCache(reps);
}
if (only.has('diff')) {
  console.log(`\n(${load()})`);
  await benchDiff(Math.max(reps, 7));
}
if (only.has('pytest')) {
  console.log(`\n(${load()})`);
  await benchPytest(reps, Number(opt('pytest-tests') ?? 40));
}
console.log(`\n${load()} at end`);
