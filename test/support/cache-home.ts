/**
 * A base-report cache folder private to this test process (`XDG_CACHE_HOME` for the CLI under test), so tests never
 * reuse the user's cache or another run's entries, and are removed when the process exits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_CACHE_HOME = mkdtempSync(join(tmpdir(), 'memdelta-test-cache-'));
process.once('exit', () => rmSync(TEST_CACHE_HOME, { recursive: true, force: true }));
