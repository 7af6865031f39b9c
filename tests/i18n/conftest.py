"""Fixtures for the settings, account and safety tests: the real main window on a running qasync
loop (as in tests/gui), and a window talking to test emulators through the `sites` override."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import asyncio  # noqa: E402
import gc  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

SHUTDOWN_TIMEOUT_MS = 15_000


@pytest.fixture(autouse=True)
def _english_afterwards() -> Iterator[None]:
    """Translations and the theme are process-wide: put them back for the next test."""
    yield
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is not None:
        from rhdesk.i18n.qt import install_language
        from rhdesk.ui.settings_dialog import apply_theme

        install_language("en")
        apply_theme("system")
    else:
        from rhdesk.i18n.core import set_language

        set_language("en")


def close_all(qtbot, windows: list) -> None:
    """Close every main window still alive (a language switch replaces them), then shut the
    shared controllers down once each."""
    import shiboken6

    controllers = []
    for w in windows:
        if shiboken6.isValid(w):
            guard = getattr(w, "_close_guard", None)
            if guard is not None:
                guard._allowed = True
            w.close()
        if w.controller not in controllers:
            controllers.append(w.controller)
    for c in controllers:
        done = asyncio.ensure_future(c.shutdown())
        qtbot.waitUntil(done.done, timeout=SHUTDOWN_TIMEOUT_MS)
        done.result()
    from PySide6.QtWidgets import QApplication

    for top in QApplication.topLevelWidgets():  # message boxes, dialogs: nothing leaks on
        if top.isVisible():
            top.close()


@pytest.fixture
def make_window(qtbot, qloop_running, tmp_path) -> Iterator[Callable[..., object]]:
    """``make_window(*argv)`` builds and shows the real window; ``--data-dir`` is tmp_path/data."""
    from rhdesk.app import build_main_window

    built: list = []

    def make(*argv: str, data_dir: Path | None = None, show: bool = True):
        args = list(argv)
        if "--data-dir" not in args:
            args += ["--data-dir", str(data_dir or tmp_path / "data")]
        window = build_main_window(args)
        built.append(window)
        if show:
            window.show()
            qtbot.waitExposed(window)
        return window

    make.built = built  # type: ignore[attr-defined]
    yield make
    close_all(qtbot, built)
    # Collect Qt objects caught in reference cycles here, in the GUI thread: left to chance,
    # a collection can run in an emulator thread and destroy a QObject with live timers from
    # the wrong thread (a later segfault in QTimerInfoList::activateTimers).
    built.clear()
    gc.collect()
    qtbot.wait(10)
