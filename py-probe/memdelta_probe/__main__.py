"""``python -m memdelta_probe``: see cli.py and docs/probe.md."""
from __future__ import annotations

import sys

from memdelta_probe.cli import main

sys.exit(main())
