"""Fixtures for the settings, account and safety tests: the real main window on a running qasync
loop (as in tests/gui), and a window talking to test emulators through the `sites` override."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

from collections.abc import Iterator  # noqa: E402

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
