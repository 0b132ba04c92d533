/**
 * The benchmark replaces its own probe report. It finds the `--out` path on the probe's command line
 * (/proc/self/cmdline) and, from an atexit handler that runs after the probe has written the report, swaps in
 * something hostile. Every variant must be rejected as an invalid report with a clear message, with the CLI's
 * memory and time bounded, and never trusted as numbers.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCompareReport } from '../../src/report/compare-schema.js';
import type { CompareReport } from '../../src/report/types.js';
import { makeRepo, makeTempDir, type TestRepo } from '../support/git-repo.js';
import { baseEnv, runCli, type Ran } from './support.js';

const ATTACK = `import atexit, json, os, sys

def find_out():
    args = open("/proc/self/cmdline", "rb").read().split(b"\\0")
    return args[args.index(b"--out") + 1].decode()

OUT = find_out()
MODE = sys.argv[1]

def mutate(change):
    with open(OUT) as f:
        report = json.load(f)
    change(report)
    with open(OUT, "w") as f:
        json.dump(report, f)

def set_peak(value):
    def change(r):
        r["peak"] = value
    return change

def many_sites(r):
    site = r["sites"][0]
    r["sites"] = [dict(site, ordinal=i) for i in range(75_000)]

def dotdot(r):
    r["sites"][0]["file"] = "../../../etc/passwd"

def extra(r):
    r["injected"] = {"verdict": "pass"}

def replace():
    if MODE in ("negative", "nan", "dotdot", "extra", "sites-in-cap"):
        mutate({"negative": set_peak(-4096), "nan": set_peak(float("nan")), "dotdot": dotdot,
                "extra": extra, "sites-in-cap": many_sites}[MODE])
        return
    os.unlink(OUT)
    if MODE == "invalid":
        with open(OUT, "w") as f:
            f.write('{"schema": "memdelta/probe@1", "peak": ')
    elif MODE == "sparse":
        with open(OUT, "wb") as f:
            f.truncate(2 * 1024 ** 3)
    elif MODE == "sites-10m":
        with open(OUT, "w") as f:
            f.write('{"sites": [')
            chunk = "0," * 1_000_000
            for _ in range(10):
                f.write(chunk)
            f.write("0]}")
    elif MODE == "dev-zero":
        os.symlink("/dev/zero", OUT)
    elif MODE == "fifo":
        os.mkfifo(OUT)

atexit.register(replace)
KEEP = [bytearray(100_000)]
`;

const MODES: Record<string, RegExp> = {
  invalid: /report is not valid JSON/,
  sparse: /the report is 2147483648 bytes, over the 16777216-byte limit/,
  'sites-10m': /the report is \d+ bytes, over the 16777216-byte limit/,
  'sites-in-cap': /report field sites: Too big: expected array to have <=20000 items/,
  negative: /report field peak: Too small/,
  nan: /report is not valid JSON .*NaN/,
  extra: /report field \(top level\): Unrecognized key: "injected"/,
  dotdot: /\.\." segment/,
  'dev-zero': /the report path is a symbolic link/,
  fifo: /the report is not a regular file/,
};

let repo: TestRepo;
let tmp: string;
let ran: Ran;
let report: CompareReport;

beforeAll(async () => {
  tmp = await makeTempDir('memdelta-adv-report-');
  const config =
    'scenarios:\n' +
    Object.keys(MODES)
      .map((m) => `  - name: ${m}\n    run: attack.py ${m}\n`)
      .join('');
  repo = await makeRepo([
    { files: { 'attack.py': 'KEEP = [bytearray(100_000)]\n', '.memdelta.yml': config }, message: 'base' },
    { files: { 'attack.py': ATTACK }, message: 'head replaces its report' },
  ]);
  ran = await runCli(['compare', '--base', 'HEAD~1', '--json', join(tmp, 'report.json'), '--no-color'], {
    cwd: repo.dir,
    env: baseEnv(),
    measureRss: true,
    timeoutMs: 120_000,
  });
  report = parseCompareReport(await readFile(join(tmp, 'report.json'), 'utf8'));
}, 150_000);

afterAll(async () => {
  await repo?.remove();
  await rm(tmp, { recursive: true, force: true });
});

describe('a probe report replaced by the benchmark', () => {
  it('makes the compare an error (exit 2) in bounded memory and time', () => {
    expect(ran.code, ran.stderr).toBe(2);
    expect(report.verdict).toBe('error');
    expect(ran.maxRss).toBeLessThan(300 * 1024 * 1024);
    expect(ran.durationMs).toBeLessThan(90_000);
  });

  for (const [mode, why] of Object.entries(MODES)) {
    it(`rejects ${mode} as an invalid report with a clear error`, () => {
      const s = report.scenarios.find((x) => x.name === mode);
      expect(s?.status).toBe('error');
      expect(s?.error?.side).toBe('head');
      expect(s?.error?.reason).toBe('report-invalid');
      expect(s?.error?.message).toMatch(why);
      // Base was measured and is still shown; no number from the forged report was used.
      expect(s?.base.peak).toBeGreaterThan(100_000);
      expect(s?.head).toEqual({ peak: 0, retained: 0 });
      expect(s?.sites).toEqual([]);
      // The reason is on the terminal too, not only in the JSON.
      expect(ran.stdout).toContain(`could not be measured on head (report-invalid)`);
    });
  }
});
