"""Renders the monthly report for a large ledger."""
from __future__ import annotations

import json

from ledger.parse import parse_batch
from ledger.report import render

rows = parse_batch(json.dumps([{"account": str(i % 500), "cents": i, "memo": "m" * 20} for i in range(60_000)]))
text = render(rows)
print(f"{len(text.splitlines())} accounts")
