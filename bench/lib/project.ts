/**
 * A small but realistic benchmark project in a temporary git repository: a package that builds records, indexes
 * them and round-trips them through JSON (about 7 MB of traced peak, 0.5–1 s per probe run on 3.11), and three
 * commits: `base`, `head` (a regression: bigger payloads and a cache of serialised text) and `comment` (base plus
 * a comment line above the allocation sites, i.e. an unchanged pull request).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The generated repository. */
export interface BenchProject {
  dir: string;
  base: string;
  head: string;
  /** Base plus a comment: the numbers must not move. */
  comment: string;
  /** The benchmark script, repo-relative. */
  script: string;
  remove(): void;
}

const SCRIPT = 'bench_ingest.py';

const STORE = `"""A small in-memory store: records, an index and a cache."""
from __future__ import annotations

import json

CACHE: dict = {}
PAYLOAD = 512


class Record:
    __slots__ = ("key", "name", "tags", "payload")

    def __init__(self, key: int, name: str, tags: list, payload: bytes) -> None:
        self.key = key
        self.name = name
        self.tags = tags
        self.payload = payload


def make_records(n: int) -> list:
    return [Record(i, "record-%06d" % i, ["t%d" % (i % 7), "g%d" % (i % 13)], bytes(PAYLOAD)) for i in range(n)]


def build_index(records: list) -> dict:
    index: dict = {}
    for r in records:
        for t in r.tags:
            index.setdefault(t, []).append(r.key)
    return index


def to_rows(records: list) -> list:
    return [{"key": r.key, "name": r.name, "tags": list(r.tags), "size": len(r.payload)} for r in records]


def round_trip(rows: list) -> list:
    text = json.dumps(rows)
    return json.loads(text)


def remember(key: str, value: object) -> None:
    CACHE[key] = value
`;

const INGEST = `"""Benchmark: ingest records, index them, serialise them, keep a summary."""
from __future__ import annotations

from app.store import build_index, make_records, remember, round_trip, to_rows


def main() -> None:
    summaries = []
    for batch in range(3):
        records = make_records(3000)
        index = build_index(records)
        rows = round_trip(to_rows(records))
        summaries.append({"batch": batch, "tags": sorted(index), "rows": len(rows)})
    remember("summaries", summaries)
    remember("last", rows[:500])


main()
`;

/** Head: payloads grow by a quarter and every serialised batch is kept in the cache. */
const STORE_HEAD = STORE.replace('PAYLOAD = 512', 'PAYLOAD = 640').replace(
  '    text = json.dumps(rows)\n',
  '    text = json.dumps(rows)\n    CACHE.setdefault("texts", []).append(text)\n',
);

/** Unchanged PR: one comment line above every allocation site (their line numbers all shift). */
const STORE_COMMENT = STORE.replace(
  'CACHE: dict = {}\n',
  '# Everything the benchmark keeps between batches.\nCACHE: dict = {}\n',
);

const IDENTITY = [
  '-c',
  'user.name=memdelta bench',
  '-c',
  'user.email=bench@memdelta.invalid',
  '-c',
  'commit.gpgsign=false',
  '-c',
  'init.defaultBranch=main',
  '-c',
  'core.hooksPath=/dev/null',
];

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', [...IDENTITY, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', HOME: dir },
  }).trim();
}

function write(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

function commit(dir: string, message: string): string {
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

/** Creates the repository; the caller removes it. */
export function makeBenchProject(): BenchProject {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'memdelta-bench-')));
  git(dir, 'init', '-q');
  write(dir, { 'app/__init__.py': '', 'app/store.py': STORE, [SCRIPT]: INGEST });
  const base = commit(dir, 'base');
  write(dir, { 'app/store.py': STORE_HEAD });
  const head = commit(dir, 'head: bigger payloads, cache serialised text');
  git(dir, 'checkout', '-q', '-b', 'unchanged', base);
  write(dir, { 'app/store.py': STORE_COMMENT });
  const comment = commit(dir, 'comment only');
  git(dir, 'checkout', '-q', base);
  return {
    dir,
    base,
    head,
    comment,
    script: SCRIPT,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
