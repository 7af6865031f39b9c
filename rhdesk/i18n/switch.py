"""Switching the language of a running window: install the translators, then rebuild the window.

Rebuilding beats re-translating in place: every widget sets its texts once, in its constructor,
and nobody has to remember a `retranslateUi` for each label they add. The new window gets the
same controller (tasks keep running, nothing reconnects) and the state a person would miss:
inputs, prompt, model, size, selection, splitter and geometry.
"""

from __future__ import annotations

import gc
import logging
import types
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from rhdesk.i18n.qt import install_language

log = logging.getLogger("rhdesk.i18n")

# Called with (old, new) after a rebuild: app.py re-attaches what it added to the first window
# (desktop integration), without this module knowing what that is.
window_replaced: list[Callable[[Any, Any], None]] = []


class _Gone:
    """Stands in for a deleted window inside old closures: every attribute and call is a no-op."""

    def __getattr__(self, _name: str) -> _Gone:
        return self

    def __call__(self, *_args: object, **_kwargs: object) -> _Gone:
        return self

    def __bool__(self) -> bool:
        return False


GONE = _Gone()


def detach(window: QWidget) -> int:
    """Make every closure that holds `window` (or one of its widgets) harmless.

    Bound methods of a deleted QObject are disconnected by Qt, but a lambda connected to a
    longer-lived object (the controller, the application, a server) stays connected and would
    raise "C++ object already deleted" at the next signal. Disconnecting each one is not an
    option: the closures' signals are unknown, and PySide 6.12 mis-counts references on every
    failed `disconnect()` (enough of them abort the interpreter). So the window in their
    closure cells is replaced by a stand-in that ignores everything. Returns how many closures
    were changed.
    """
    # Widgets only: they die with the window. A non-widget child (the single-instance server)
    # may be handed to the new window by a `window_replaced` hook whose closure holds it.
    members = {id(window), *(id(c) for c in window.findChildren(QWidget))}
    changed = 0
    for obj in gc.get_objects():
        if not (isinstance(obj, types.FunctionType) and obj.__closure__):
            continue
        hit = False
        for cell in obj.__closure__:
            try:
                if id(cell.cell_contents) in members:
                    cell.cell_contents = GONE
                    hit = True
            except ValueError:  # an empty cell
                continue
        changed += hit
    return changed


def rebuild_main_window(old: QWidget) -> QWidget:
    """A new MainWindow on the same controller, in the current language; the old one closes."""
    from rhdesk.ui.main_window import MainWindow

    controller = old.controller  # type: ignore[attr-defined]
    state = old.capture_state()  # type: ignore[attr-defined]
    geometry = old.normalGeometry() if old.isMaximized() else old.geometry()
    maximized, visible = old.isMaximized(), old.isVisible()
    log.debug("language switch: %d closures over the old window neutralised", detach(old))

    new = MainWindow(controller)
    new.setGeometry(geometry)
    new.restore_state(state)
    for hook in window_replaced:
        hook(old, new)
    if maximized:
        new.setWindowState(new.windowState() | Qt.WindowState.WindowMaximized)
    if visible:
        new.show()
    guard = getattr(old, "_close_guard", None)
    if guard is not None:
        guard._allowed = True  # tasks keep running: closing this window is not quitting
    old.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    old.close()
    return new


def switch_language(window: QWidget, setting: str) -> QWidget:
    """Install `setting` ("system", "en", "zh_CN") and rebuild `window` in it; returns the
    window now on screen (the same one if the language did not change)."""
    from rhdesk.i18n import core

    before = core.current_language()
    after = install_language(setting)
    if after == before:
        return window
    return rebuild_main_window(window)
