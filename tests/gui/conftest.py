"""Fixtures that build the real main window (``rhdesk.app.build_main_window``) on a qasync loop.

The loop is created with ``already_running=True`` so that pytest-qt's blocking ``waitUntil`` /
``waitSignal`` drive Qt *and* the asyncio tasks (httpx needs a loop that says it is running).
Every window is closed and its controller shut down at teardown, so no emulator thread, httpx
client or pipeline task leaks into the next test.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))  # its qt_helpers


SHARED_TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata"
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "logo.png"]


@pytest.fixture
def photo_files(tmp_path: Path) -> list[Path]:
    """Eleven distinct image files (copies of the shared real photos: none is a duplicate)."""
    missing = [n for n in PHOTOS if not (SHARED_TESTDATA / n).exists()]
    if missing:
        pytest.skip(f"shared test photos missing: {missing}")
    folder = tmp_path / "photos"
    folder.mkdir()
    out = []
    for i in range(11):
        src = SHARED_TESTDATA / PHOTOS[i % len(PHOTOS)]
        dst = folder / f"photo{i + 1:02d}{src.suffix}"
        shutil.copyfile(src, dst)
        out.append(dst)
    return out
