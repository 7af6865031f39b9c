"""Fixtures for the history tests: the real main window on a running qasync loop (as in
tests/gui), histories of thousands of tasks written straight into the store."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import shutil  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "gui"))


SHARED_TESTDATA = HERE.parents[2] / "shared" / "testdata"


@pytest.fixture
def make_window(make_window, qtbot) -> Callable[..., object]:
    """The root fixture's window at the size the history's detail pane is laid out for."""

    def make(*argv: str, data_dir: Path | None = None):
        window = make_window(*argv, data_dir=data_dir, show=False)
        window.resize(1440, 900)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    names = ["astronaut.png", "chelsea.png", "coffee.png"]
    if any(not (SHARED_TESTDATA / n).exists() for n in names):
        pytest.skip("shared test photos missing")
    folder = tmp_path / "photos"
    folder.mkdir()
    out = []
    for n in names:
        shutil.copyfile(SHARED_TESTDATA / n, folder / n)
        out.append(folder / n)
    return out
