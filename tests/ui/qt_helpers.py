"""Qt test helpers: synthetic drag and drop, and a dark palette for theme screenshots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QPalette
from PySide6.QtWidgets import QApplication, QWidget


def drag_event(cls, pos, md: QMimeData, action=Qt.DropAction.CopyAction):
    """QDragEnter/MoveEvent take QPointF on PySide6 >= 6.12 and only QPoint on 6.11."""
    args = (action, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    try:
        return cls(QPointF(pos), *args)
    except TypeError:
        return cls(QPointF(pos).toPoint(), *args)


def send_drop(widget: QWidget, md: QMimeData, action=Qt.DropAction.CopyAction) -> bool:
    """Enter, move and drop like a real drag; returns whether the drop was accepted.

    The caller owns ``md``: the events only borrow it, and a temporary would be freed early.
    """
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    enter = drag_event(QDragEnterEvent, pos, md, action)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    move = drag_event(QDragMoveEvent, pos, md, action)
    QApplication.sendEvent(widget, move)
    drop = QDropEvent(pos, action, md, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def drop_files(widget: QWidget, paths: Sequence[Path]) -> bool:
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return send_drop(widget, md)


def dark_palette() -> QPalette:
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2b2e",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1e20",
        QPalette.ColorRole.AlternateBase: "#2f2f33",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#3a3a3e",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.Highlight: "#3d8ee6",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: "#8a8a8e",
        QPalette.ColorRole.ToolTipBase: "#3a3a3e",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
    }
    for role, color in roles.items():
        pal.setColor(role, QColor(color))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#77777b"))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#77777b"))
    return pal
