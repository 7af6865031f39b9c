"""Helpers for driving the real main window: drops, typing, finding rows and waiting on tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

TASK_TIMEOUT_MS = 20_000  # a task against the emulator takes < 2 s; CI machines are slower


def drag_event(cls, pos: QPointF, md: QMimeData):
    """QDragEnter/MoveEvent take QPointF on PySide6 >= 6.12 and only QPoint on 6.11."""
    args = (Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    try:
        return cls(QPointF(pos), *args)
    except TypeError:
        return cls(QPointF(pos).toPoint(), *args)


def drop_files(widget: QWidget, paths: Sequence[Path]) -> bool:
    """A file-manager drop: enter, move, drop. Returns whether the drop was accepted."""
    md = QMimeData()  # a local: the events only borrow it (a temporary segfaults)
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    enter = drag_event(QDragEnterEvent, pos, md)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    QApplication.sendEvent(widget, drag_event(QDragMoveEvent, pos, md))
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


SHUTDOWN_TIMEOUT_MS = 15_000


def close_window(qtbot, window) -> None:
    """Close like a user would, then let the controller stop its tasks, client and emulator."""
    if getattr(window, "_test_closed", False):
        return
    window._test_closed = True
    window.close()
    shutdown = asyncio.ensure_future(window.controller.shutdown())
    qtbot.waitUntil(shutdown.done, timeout=SHUTDOWN_TIMEOUT_MS)
    shutdown.result()  # re-raise a failed shutdown here rather than lose it
    # Delete the window now, with no image thread left to emit into it. Left to Python's garbage
    # collector, it died at a random later moment (in another test, or at exit) while a
    # thumbnail thread was still delivering to it: a segfault far from its cause.
    window.worker.shutdown(wait=True)
    window.thumbs._pool.shutdown(wait=True)
    window.deleteLater()
    window.controller.deleteLater()  # parentless: it and its models would wait for the GC too
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
