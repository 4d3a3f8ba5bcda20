"""``python -m mtop``: the command line (``mtop.cli.main``)."""

from __future__ import annotations

import sys

from mtop.cli import main

if __name__ == "__main__":
    sys.exit(main())
