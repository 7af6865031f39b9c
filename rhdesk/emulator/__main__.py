from __future__ import annotations

import sys

from rhdesk.emulator.cli import main

sys.exit(main(prog="python -m rhdesk.emulator"))
