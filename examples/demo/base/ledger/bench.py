"""Benchmark entrypoints used by memdelta (see .memdelta.yml)."""
from __future__ import annotations

import json

from ledger.parse import parse_batch
from ledger.report import render

BATCH = json.dumps(
    [{"account": str(i % 50), "cents": (i * 7919) % 100_000, "memo": "x" * 40} for i in range(2_000)]
)


def ingest() -> None:
    """One request's worth of work: parse a batch and aggregate it."""
    rows = parse_batch(BATCH)
    render(rows)
