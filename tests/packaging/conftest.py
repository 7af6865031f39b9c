"""Fixtures for the desktop-integration tests: a qasync loop pytest-qt can drive, and windows
built the way `rhdesk.app.main` builds them (with `rhdesk.desktop.integrate`)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import shutil  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from packaging_helpers import SAMPLE, shut_down  # noqa: E402


@pytest.fixture
def app_window(qtbot, qloop_running) -> Iterator[Callable[..., object]]:
    """`app_window(*argv)`: claim the instance, build, integrate and show, like app.main."""
    from rhdesk import desktop
    from rhdesk.app import build_main_window

    built: list = []

    def make(*argv: str):
        args = list(argv)
        server = desktop.claim_instance(args)
        assert server is not None, "another instance already owns this data folder"
        window = build_main_window(args)
        desktop.integrate(window, server, args)
        built.append(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield make
    for window in built:
        shut_down(qtbot, window)


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    """Three distinct copies of the bundled sample photo (the slots refuse duplicates)."""
    folder = tmp_path / "images"
    folder.mkdir()
    out = []
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        shutil.copyfile(SAMPLE, folder / name)
        out.append(folder / name)
    return out
