/**
 * An interpreter that has pytest, for the tests of pytest mode: `python3` when it imports pytest, else Debian's
 * `/usr/bin/python3` with `python3-pytest` (which `.ci/run` installs). memdelta never installs pytest itself, so
 * without one these tests fail with the reason rather than pass without running.
 */
import { execFileSync } from 'node:child_process';

function pytestVersion(python: string): string | undefined {
  try {
    return execFileSync(python, ['-c', 'import pytest; print(pytest.__version__)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 30_000,
    }).trim();
  } catch {
    return undefined;
  }
}

/** The interpreter and its pytest version. */
export function findPytestPython(): { python: string; pytest: string } {
  for (const python of [process.env['MEMDELTA_TEST_PYTEST_PYTHON'], 'python3', '/usr/bin/python3']) {
    if (!python) continue;
    const pytest = pytestVersion(python);
    if (pytest) return { python, pytest };
  }
  throw new Error(
    'no Python with pytest found (tried python3 and /usr/bin/python3): install python3-pytest, as .ci/run does',
  );
}
