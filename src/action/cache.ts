/**
 * The base-report cache across workflow runs: the cache folder is restored with GitHub's cache service
 * (`@actions/cache`) before the compare and saved after it. Cache keys are immutable, so each save is keyed by the
 * base SHA plus a hash of the entries it holds, and a restore takes the newest entry for the base SHA (a prefix
 * match). Without the cache service (a runner that does not offer it, a local run) the folder still serves the
 * one run, and nothing is restored or saved.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import * as cache from '@actions/cache';

/** Hooks for log lines; the action passes `core.info`. */
export type Log = (message: string) => void;

/** The prefix of every key saved for this base commit on this runner OS. */
export function keyPrefix(baseSha: string, os: string): string {
  return `memdelta-base-${os}-${baseSha}-`;
}

/**
 * Restores the newest folder saved for `baseSha` into `dir`; returns the key restored. Never throws: a failed
 * restore only means base is measured.
 */
export async function restoreBaseCache(
  dir: string,
  baseSha: string,
  os: string,
  log: Log,
): Promise<string | undefined> {
  if (!cache.isFeatureAvailable()) return undefined;
  const prefix = keyPrefix(baseSha, os);
  try {
    const matched = await cache.restoreCache([dir], `${prefix}none`, [prefix]);
    log(
      matched ? `memdelta: base reports restored from cache ${matched}` : 'memdelta: no cached base reports',
    );
    return matched;
  } catch (e) {
    log(`memdelta: cache restore skipped (${(e as Error).message})`);
    return undefined;
  }
}

/** The key a folder is saved under: the prefix and a hash of the entry names it holds; undefined when empty. */
export async function contentKey(dir: string, prefix: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return undefined;
  }
  if (names.length === 0) return undefined;
  return `${prefix}${createHash('sha256').update(names.join('\n')).digest('hex').slice(0, 16)}`;
}

/** Saves the folder when it holds entries the restored one (`matched`) did not. Never throws. */
export async function saveBaseCache(
  dir: string,
  baseSha: string,
  os: string,
  matched: string | undefined,
  log: Log,
): Promise<void> {
  if (!cache.isFeatureAvailable()) return;
  const key = await contentKey(dir, keyPrefix(baseSha, os));
  if (key === undefined || key === matched) return;
  try {
    await cache.saveCache([dir], key);
    log(`memdelta: base reports saved to cache ${key}`);
  } catch (e) {
    log(`memdelta: cache save skipped (${(e as Error).message})`);
  }
}
