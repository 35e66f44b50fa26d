"""`python -m bench`: the in-process benchmark (see bench/inprocess.py)."""

from __future__ import annotations

import sys

from bench.inprocess import main

if __name__ == "__main__":
    sys.exit(main())
