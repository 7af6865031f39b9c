"""The bundle's entry point: the same `rhdesk` command as `pip install` gives."""

from __future__ import annotations

import sys

from rhdesk.cli import main

if __name__ == "__main__":
    sys.exit(main())
